"""Acquisition links (获客助手) per store and per guide (and per import batch on request), kept in step
with the organisation like the channel codes: made when missing, updated when their guides change,
deleted when their store or guide is gone. A member's own address is the link's url with
``customer_channel=<member_id>``: WeCom hands that value back as the add's ``State``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import structlog

from acquisition import wecomapi
from acquisition.models import AcquisitionLink, Member, TaskStatus
from acquisition.wecomapi import AcquisitionErr, AcquisitionQuotaExceeded
from bot.deps import Deps
from bot.wecom.errors import WeComPermanentError
from customers.models import Guide, Role, Store

__all__ = ["BATCH", "GUIDE", "STORE", "TEMPLATES", "LinkSyncResult", "STATE_MAX_BYTES", "member_url", "sync_links",
           "live_links"]

log = structlog.get_logger(__name__)

STORE, GUIDE, BATCH = "store", "guide", "batch"
STATE_MAX_BYTES = 64  # what WeCom hands back as State
_MAX_USERS = 100
TEMPLATES = ("acquire_link_store", "acquire_link_guide", "acquire_link_batch")


@dataclass(frozen=True, slots=True)
class _Wanted:
    scope: str
    key: str
    name: str
    users: tuple[str, ...]


@dataclass(slots=True)
class LinkSyncResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (link, why)


def member_url(link_url: str, member_id: str) -> str:
    """``<link url>?customer_channel=<member_id>``; the member id must fit WeCom's 64-byte State."""
    if len(member_id.encode()) > STATE_MAX_BYTES:
        raise ValueError(f"a member id is at most {STATE_MAX_BYTES} bytes to come back as State")
    joiner = "&" if "?" in link_url else "?"
    return f"{link_url}{joiner}customer_channel={quote(member_id, safe='')}"


async def _wanted(deps: Deps, batch: str | None) -> list[_Wanted]:
    templates = deps.config.templates
    guides = await Guide.filter(active=True, role=Role.GUIDE, store_id__not_isnull=True).order_by("id")
    by_store: dict[int, list[str]] = {}
    for guide in guides:
        by_store.setdefault(guide.store_id or 0, []).append(guide.userid)
    wanted = []
    for store in await Store.all().order_by("id"):
        users = tuple(by_store.get(store.id, [])[:_MAX_USERS])
        if users:
            wanted.append(_Wanted(STORE, store.code, templates.render("acquire_link_store", name=store.name)[:64],
                                  users))
    for guide in guides:
        wanted.append(_Wanted(GUIDE, guide.userid,
                              templates.render("acquire_link_guide", name=guide.name or guide.userid)[:64],
                              (guide.userid,)))
    listed: list[Any] = await AcquisitionLink.filter(scope=BATCH, deleted_at__isnull=True).values_list(
        "key", flat=True)
    batches = {str(key) for key in listed}
    if batch:
        batches.add(batch)
    for name in sorted(batches):
        holders: list[Any] = await Member.filter(batch=name, task_status=TaskStatus.OPEN).distinct().values_list(
            "guide__userid", flat=True)
        chosen = tuple(sorted(str(u) for u in holders if u))[:_MAX_USERS]
        if chosen:
            wanted.append(_Wanted(BATCH, name, templates.render("acquire_link_batch", name=name)[:64], chosen))
    return wanted


async def _still_there(deps: Deps, link: AcquisitionLink) -> bool:
    try:
        await wecomapi.get_link(deps, link.link_id or "")
    except WeComPermanentError as err:
        if err.errcode == AcquisitionErr.NO_LINK:
            return False
        raise
    return True


async def sync_links(deps: Deps, *, batch: str | None = None) -> LinkSyncResult:
    """Every wanted link made or updated in WeCom, links no longer wanted deleted. Safe to re-run."""
    result = LinkSyncResult()
    wanted = await _wanted(deps, batch)
    known = {(link.scope, link.key): link for link in await AcquisitionLink.all()}
    for want in wanted:
        link = known.get((want.scope, want.key))
        try:
            if link is None or link.deleted_at is not None or not link.link_id or not await _still_there(deps, link):
                made = await wecomapi.create_link(deps, want.name, want.users)
                await AcquisitionLink.update_or_create(scope=want.scope, key=want.key, defaults={
                    "link_id": str(made["link_id"]), "url": str(made.get("url", "")), "name": want.name,
                    "users": list(want.users), "deleted_at": None})
                result.created += 1
                log.info("acquisition_link_created", scope=want.scope, users=len(want.users))
            elif tuple(link.users) != want.users or link.name != want.name:
                await wecomapi.update_link(deps, link.link_id or "", want.name, want.users)
                await AcquisitionLink.filter(id=link.id).update(users=list(want.users), name=want.name)
                result.updated += 1
            else:
                result.unchanged += 1
        except AcquisitionQuotaExceeded as err:
            result.refused.append((want.name, str(err)))
            log.warning("acquisition_link_refused", scope=want.scope, errcode=err.errcode)
            break  # the rest would be refused for the same quota
        except WeComPermanentError as err:
            result.refused.append((want.name, err.errmsg))
            log.warning("acquisition_link_refused", scope=want.scope, errcode=err.errcode)
    keys = {(w.scope, w.key) for w in wanted}
    for (scope, key), link in known.items():
        if (scope, key) in keys or link.deleted_at is not None or not link.link_id:
            continue
        try:
            await wecomapi.delete_link(deps, link.link_id)
        except WeComPermanentError as err:
            log.info("acquisition_link_already_gone", errcode=err.errcode)
        await AcquisitionLink.filter(id=link.id).update(deleted_at=deps.clock.now())
        result.deleted += 1
    return result


async def live_links(scopes: Sequence[str] = (STORE, GUIDE, BATCH)) -> list[AcquisitionLink]:
    return list(await AcquisitionLink.filter(deleted_at__isnull=True, link_id__not_isnull=True,
                                             scope__in=list(scopes)).order_by("scope", "key"))
