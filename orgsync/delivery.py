"""A member deleted in WeCom: record it, and tell their store manager (or the operators) once.

Nothing is handed over here: the message counts the customers left behind and suggests the
``交接`` command (离职继承) with a taker — the store's active guide with the fewest customers.
A person decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from tortoise.functions import Count

from bot.deps import Deps
from bot.outbox import send_once
from customers.models import Guide, Relationship, Role
from orgsync.models import OrgMember

__all__ = ["Departure", "member_left"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Departure:
    userid: str
    customers: int
    taker: str | None
    told: tuple[str, ...]


async def _active_customers(guide_id: int) -> int:
    return await Relationship.filter(
        guide_id=guide_id, deleted_by_customer_at__isnull=True, deleted_by_guide_at__isnull=True
    ).count()


async def _suggested_taker(guide: Guide) -> Guide | None:
    """The store's active guide with the fewest current customers (ties: by userid, so the suggestion is stable)."""
    if guide.store_id is None:
        return None
    candidates = await Guide.filter(
        store_id=guide.store_id, active=True, role=Role.GUIDE
    ).exclude(id=guide.id)
    if not candidates:
        return None
    rows = (
        await Relationship.filter(
            guide_id__in=[c.id for c in candidates], deleted_by_customer_at__isnull=True,
            deleted_by_guide_at__isnull=True,
        )
        .annotate(customers=Count("id"))
        .group_by("guide_id")
        .values("guide_id", "customers")
    )
    load = {int(row["guide_id"]): int(row["customers"]) for row in rows}
    return min(candidates, key=lambda c: (load.get(c.id, 0), c.userid))


async def _recipients(deps: Deps, guide: Guide) -> list[Guide]:
    if guide.store_id is not None:
        managers = await Guide.filter(
            store_id=guide.store_id, role=Role.STORE_MANAGER, active=True
        ).exclude(id=guide.id)
        if managers:
            return list(managers)
    return list(await Guide.filter(role=Role.OPERATOR, active=True).exclude(id=guide.id).order_by("id"))


async def member_left(deps: Deps, userid: str, at: datetime) -> Departure | None:
    """Mark the member inactive; if they still have customers, one message to whoever takes care of it."""
    guide = await Guide.get_or_none(userid=userid)
    if guide is None:
        log.info("org_unknown_member_left", userid=userid)
        return None
    if guide.active:
        guide.active = False
        await guide.save(update_fields=["active", "updated_at"])
    member, _ = await OrgMember.get_or_create(guide_id=guide.id, defaults={"synced_at": at, "deleted_at": at})
    if member.deleted_at is None:
        member.deleted_at, member.status = at, 5
        await member.save(update_fields=["deleted_at", "status"])
    customers = await _active_customers(guide.id)
    if not customers:
        log.info("org_member_left", userid=userid, customers=0)
        return Departure(userid, 0, None, ())
    taker = await _suggested_taker(guide)
    recipients = await _recipients(deps, guide)
    departed_at = int((member.deleted_at or at).timestamp())
    templates = deps.config.templates
    if taker is not None:
        suggested = templates.render("member_departed_taker", name=taker.name or taker.userid, userid=taker.userid)
        command = templates.render("member_departed_command", userid=userid, taker=taker.userid)
    else:
        suggested = templates.render("member_departed_no_taker")
        command = templates.render("member_departed_command_no_taker", userid=userid)
    text = templates.render(
        "member_departed", name=guide.name or userid, userid=userid, customers=customers, taker=suggested,
        command=command,
    )
    told = []
    for recipient in recipients:

        async def send(to: str = recipient.userid) -> None:
            await deps.wecom.send_text([to], text)

        await send_once(f"departed:{userid}:{departed_at}:{recipient.userid}", "member_departed", recipient.userid,
                        send, deps.clock)
        told.append(recipient.userid)
    if not recipients:
        log.warning("org_member_left_nobody_to_tell", userid=userid, customers=customers)
    log.info("org_member_left", userid=userid, customers=customers, taker=taker.userid if taker else None,
             told=len(told))
    return Departure(userid, customers, taker.userid if taker else None, tuple(told))
