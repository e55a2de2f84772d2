"""The customer lifecycle as WeCom reports it: added, edited, removed either way, transfers.

Plain inputs (ids, times) in; WeCom is called through ``deps.wecom``; every write is an upsert
on a unique key, so a replayed event changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import structlog

from bot.deps import Deps
from bot.wecom.errors import NotExternalContact, WeComError
from customers.config import Org
from customers.models import (
    ROLE_FROM_CHAT,
    ROLE_FROM_ORG,
    ChannelCode,
    Customer,
    Guide,
    Relationship,
    Store,
)
from customers.orders import link_orders_to_customer
from customers.tags import mirror_relation_tags, tag_ids_of_follow

__all__ = [
    "AddCause",
    "ContactAdded",
    "fetch_added_contact",
    "record_added",
    "contact_edited",
    "guide_removed_customer",
    "customer_removed_guide",
    "Removal",
    "transfer_failed",
    "upsert_contact",
    "ensure_guide",
    "apply_org",
    "relationships_of",
]

log = structlog.get_logger(__name__)


def utc_from_unix(seconds: int | str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(seconds), UTC) if seconds not in (None, "", 0, "0") else None
    except (TypeError, ValueError):
        return None


async def ensure_guide(deps: Deps, userid: str) -> Guide:
    """The member row, created on first sight; the name is fetched from WeCom when unknown."""
    guide, _ = await Guide.get_or_create(userid=userid)
    if not guide.name:
        try:
            user = await deps.wecom.get_user(userid)
            guide.name = str(user.get("name", ""))[:64]
            await guide.save(update_fields=["name"])
        except WeComError as err:
            log.info("guide_name_unavailable", userid=userid, errcode=err.errcode)
    return guide


async def apply_org(org: Org) -> None:
    """Upsert the configured stores, member roles and channel codes into the database."""
    store_ids: dict[str, int] = {}
    for conf in org.stores.values():
        if conf.name:
            store, _ = await Store.update_or_create(code=conf.code, defaults={"name": conf.name})
        else:  # named by the address book (orgsync/)
            store, _ = await Store.get_or_create(code=conf.code, defaults={"name": conf.code})
        store_ids[conf.code] = store.id
    for member in org.members.values():
        defaults: dict[str, Any] = {"store_id": store_ids.get(member.store or "")}
        if member.name:
            defaults["name"] = member.name
        known = await Guide.get_or_none(userid=member.userid)
        if known is None:
            await Guide.create(userid=member.userid, role=member.role, role_source=ROLE_FROM_ORG, **defaults)
            continue
        if known.role_source == ROLE_FROM_CHAT:
            # An admin set this role in chat since: that is the newer decision, and it stays.
            if known.role != member.role:
                log.info("org_role_kept_from_chat", userid=member.userid, role=known.role.value,
                         org_yaml_role=member.role.value)
        else:
            defaults |= {"role": member.role, "role_source": ROLE_FROM_ORG}
        await Guide.filter(id=known.id).update(**defaults)
    for channel in org.channels.values():
        await ChannelCode.update_or_create(
            state=channel.state,
            defaults={
                "name": channel.name,
                "store_id": store_ids.get(channel.store or ""),
                "guide_userid": channel.guide,
                "campaign": channel.campaign,
                "welcome_template": channel.welcome,
            },
        )


async def upsert_customer(external: Mapping[str, Any], seen_at: datetime) -> Customer:
    values = {
        "unionid": external.get("unionid") or None,
        "name": str(external.get("name", ""))[:128],
        "type": int(external.get("type", 1) or 1),
        "gender": int(external.get("gender", 0) or 0),
        "avatar": str(external.get("avatar", ""))[:512],
        "corp_name": str(external.get("corp_name", ""))[:128],
    }
    customer, created = await Customer.get_or_create(
        external_userid=external["external_userid"], defaults=values | {"first_seen_at": seen_at}
    )
    if not created:
        await Customer.filter(id=customer.id).update(**values)
        for name, value in values.items():
            setattr(customer, name, value)
    return customer


async def upsert_relationship(
    guide: Guide, customer: Customer, follow: Mapping[str, Any], *, state: str, half: bool, at: datetime
) -> Relationship:
    state = state or str(follow.get("state", "") or "")
    channel = await ChannelCode.get_or_none(state=state) if state else None
    values: dict[str, Any] = {
        "state": state[:30],
        "channel_id": channel.id if channel else None,
        "add_way": int(follow.get("add_way", 0) or 0),
        "remark": str(follow.get("remark", ""))[:128],
        "description": str(follow.get("description", ""))[:512],
        "half": half,
    }
    created_at = utc_from_unix(follow.get("createtime")) or at
    relationship, created = await Relationship.get_or_create(
        guide_id=guide.id, customer_id=customer.id, defaults=values | {"created_at": created_at}
    )
    if not created:
        if not state:
            del values["state"], values["channel_id"]
        deleted_at = relationship.deleted_by_customer_at or relationship.deleted_by_guide_at
        if deleted_at and deleted_at < at:
            # Re-added after a loss: a new relation from now on.
            values |= {"deleted_by_customer_at": None, "deleted_by_guide_at": None, "created_at": created_at}
        elif deleted_at and created_at < relationship.created_at:
            # The loss was handled before this (earlier) add: the relation stays lost, and it
            # began when the add says, not when the loss recorded a stand-in for it.
            values["created_at"] = created_at
        if not half:
            values["half"] = False
        await Relationship.filter(id=relationship.id).update(**values)
        await relationship.refresh_from_db()
    return relationship


def _follow_of(contact: Mapping[str, Any], userid: str) -> Mapping[str, Any]:
    follows: Sequence[Mapping[str, Any]] = contact.get("follow_user") or contact.get("follow_info") or []
    if isinstance(follows, Mapping):
        return follows
    return next((f for f in follows if f.get("userid") == userid), {})


async def upsert_contact(
    deps: Deps, contact: Mapping[str, Any], userid: str, *, state: str = "", half: bool = False, at: datetime
) -> tuple[Customer, Relationship, Guide]:
    """Upsert customer, member and relation from an externalcontact/get answer."""
    customer = await upsert_customer(contact["external_contact"], at)
    guide = await ensure_guide(deps, userid)
    follow = _follow_of(contact, userid)
    relationship = await upsert_relationship(guide, customer, follow, state=state, half=half, at=at)
    await mirror_relation_tags(relationship, tag_ids_of_follow(follow))
    return customer, relationship, guide


class AddCause(StrEnum):
    """How a contact was added: WeCom's ChangeType, named once. ``HALF``: the customer added the
    member, who has not accepted yet (免验证 off)."""

    ADDED = "add_external_contact"
    HALF = "add_half_external_contact"


@dataclass(frozen=True, slots=True)
class ContactAdded:
    """A contact added, as the add event says it."""

    userid: str
    external_userid: str
    at: datetime
    state: str = ""
    welcome_code: str = ""  # short-lived: used by the welcome, never queued
    cause: AddCause = AddCause.ADDED

    @property
    def half(self) -> bool:
        return self.cause is AddCause.HALF


async def fetch_added_contact(deps: Deps, added: ContactAdded) -> dict[str, Any] | None:
    """The new contact as WeCom has it (externalcontact/get), needed by the welcome and the record alike.

    None when the customer was already gone by the time the add is handled (WeCom delivered, or a
    worker handled, the loss first): the loss has recorded the relation, and there is no one to
    welcome.
    """
    try:
        contact: dict[str, Any] = await deps.wecom.get_external_contact(added.external_userid)
    except NotExternalContact:
        log.info("contact_gone_before_add", userid=added.userid, external_userid=added.external_userid)
        return None
    return contact


async def record_added(deps: Deps, added: ContactAdded, contact: Mapping[str, Any]) -> Customer:
    """Record customer, member and relation, attribute the channel from ``State``, link earlier orders."""
    customer, relationship, _guide = await upsert_contact(
        deps, contact, added.userid, state=added.state, half=added.half, at=added.at
    )
    await link_orders_to_customer(customer)
    log.info(
        "customer_added",
        userid=added.userid,
        customer_id=customer.id,
        relationship_id=relationship.id,
        state=added.state or None,
        half=added.half,
    )
    return customer


async def contact_edited(deps: Deps, userid: str, external_userid: str, at: datetime) -> int:
    """Remark, description or tags changed in WeCom: fetch the contact again; return the customer id."""
    contact = await deps.wecom.get_external_contact(external_userid)
    customer, _relationship, _guide = await upsert_contact(deps, contact, userid, at=at)
    customer_id: int = customer.id
    return customer_id


async def relationships_of(customer_id: int) -> list[Relationship]:
    """Every relation of a customer (lost ones too), with its member and channel loaded."""
    return await Relationship.filter(customer_id=customer_id).prefetch_related("guide", "channel")


async def _relationship(userid: str, external_userid: str) -> Relationship | None:
    return await Relationship.get_or_none(guide__userid=userid, customer__external_userid=external_userid)


async def _record_removal(
    userid: str, external_userid: str, at: datetime, column: str
) -> tuple[Relationship, bool]:
    """Stamp ``column`` (deleted_by_guide_at / deleted_by_customer_at) once; True if the relation was known.

    A loss can be handled before its add: WeCom delivers callbacks in no guaranteed order (a
    retried add comes late), and two workers can take the two events at once. The loss is then
    recorded on a stand-in relation, which the late add fills in without reviving it
    (:func:`upsert_relationship` revives only for a loss older than the add).
    """
    relationship = await _relationship(userid, external_userid)
    if relationship is None:
        guide, _ = await Guide.get_or_create(userid=userid)
        customer, _ = await Customer.get_or_create(external_userid=external_userid, defaults={"first_seen_at": at})
        relationship, created = await Relationship.get_or_create(
            guide_id=guide.id, customer_id=customer.id, defaults={"created_at": at, column: at}
        )
        if created:
            log.info("removal_before_add", userid=userid, column=column)
            return relationship, False
    if getattr(relationship, column) is None:
        setattr(relationship, column, at)
        await relationship.save(update_fields=[column])
    return relationship, True


@dataclass(frozen=True, slots=True)
class Removal:
    """A relation's loss as recorded; ``known``: the add was seen before (we know whom it is about)."""

    relationship: Relationship
    known: bool

    @property
    def customer_id(self) -> int:
        customer_id: int = self.relationship.customer_id
        return customer_id


async def customer_removed_guide(userid: str, external_userid: str, at: datetime) -> Removal:
    """The customer deleted the guide (流失): record it once (delivery.alert_lost tells the guide)."""
    return Removal(*await _record_removal(userid, external_userid, at, "deleted_by_customer_at"))


async def guide_removed_customer(userid: str, external_userid: str, at: datetime, source: str = "") -> int | None:
    relationship, _known = await _record_removal(userid, external_userid, at, "deleted_by_guide_at")
    log.info("guide_removed_customer", relationship_id=relationship.id, by_transfer=source == "DELETE_BY_TRANSFER")
    return relationship.customer_id


async def transfer_failed(userid: str, external_userid: str, reason: str) -> None:
    relationship = await _relationship(userid, external_userid)
    if relationship is not None:
        relationship.transfer_failed_reason = reason[:32]
        await relationship.save(update_fields=["transfer_failed_reason"])
    log.warning("transfer_failed", userid=userid, reason=reason, known=relationship is not None)
