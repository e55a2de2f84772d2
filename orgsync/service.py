"""Departments and members from WeCom's address book into stores and guides.

``org.yaml`` says only what WeCom cannot (``customers/config.py``): which department subtree holds
the stores (``store_root``: its leaf departments are stores) or an explicit department per store,
roles beyond guide, and names the brand wants instead of WeCom's. Everything else comes from
``department/list``, ``user/list_id`` and ``user/get``, and is kept in step by ``change_contact``
callbacks (``handlers/orgsync.py`` → ``member_updated``, ``member_deleted``, ``departments_changed``,
each telling the other features with ``OrgChanged``). Roles are never overwritten: a member WeCom makes a department
leader becomes the store's manager when they start leading (and org.yaml names no manager for
that store); a role set in chat or in org.yaml stays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from tortoise.functions import Count

from bot.deps import Deps
from bot.progress import Progress
from bot.wecom.errors import WeComError
from channels.service import sync_channels
from customers.config import ORG
from customers.models import ROLE_FROM_CHAT, Guide, Relationship, Role, Store
from orgsync.delivery import DepartureNotice, Member, send_departure_notice
from orgsync.events import org_changed
from orgsync.models import OrgDepartment, OrgMember

__all__ = [
    "Departure",
    "MemberInfo",
    "OrgCallback",
    "OrgSyncResult",
    "apply_departments",
    "apply_member",
    "departments_changed",
    "member_deleted",
    "member_left",
    "member_updated",
    "refresh_departments",
    "refresh_member",
    "scheduled_sync",
    "store_departments",
    "sync_and_tell",
    "sync_org",
]

log = structlog.get_logger(__name__)

_ACTIVE_STATUSES = frozenset({1, 4})  # activated, not yet activated; 2 disabled, 5 left
_USER_GET_CONCURRENCY = 8
_USERID_NOT_FOUND = 60111


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """A member as ``user/get`` describes them."""

    userid: str
    name: str
    departments: tuple[int, ...]
    main_department: int
    leads: tuple[int, ...]
    status: int

    @classmethod
    def of(cls, user: Mapping[str, Any]) -> MemberInfo:
        departments = tuple(int(d) for d in user.get("department") or [])
        flags = list(user.get("is_leader_in_dept") or [])
        leads = tuple(d for d, flag in zip(departments, flags, strict=False) if int(flag or 0) == 1)
        main = int(user.get("main_department") or (departments[0] if departments else 0))
        return cls(str(user["userid"]), str(user.get("name", ""))[:64], departments, main, leads,
                   int(user.get("status", 1) or 1))


@dataclass(slots=True)
class OrgSyncResult:
    departments: int = 0
    stores: int = 0
    members: int = 0
    created: int = 0
    moved: int = 0
    left: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MemberChange:
    guide_id: int
    created: bool
    moved: bool
    store_id: int | None


# --- departments -------------------------------------------------------------------------------------


def _root_id(store_root: int | str | None, departments: Sequence[Mapping[str, Any]]) -> int | None:
    if store_root is None or isinstance(store_root, int):
        return store_root
    named = [int(d["id"]) for d in departments if d.get("name") == store_root]
    if not named:
        log.warning("org_store_root_not_found", store_root=store_root)
    return min(named) if named else None


def store_departments(store_root: int | str | None, departments: Sequence[Mapping[str, Any]]) -> set[int]:
    """The leaf departments under ``store_root`` (the root itself is not a store)."""
    root = _root_id(store_root, departments)
    if root is None:
        return set()
    children: dict[int, list[int]] = {}
    for department in departments:
        children.setdefault(int(department.get("parentid", 0)), []).append(int(department["id"]))
    leaves: set[int] = set()
    pending = list(children.get(root, []))
    while pending:
        current = pending.pop()
        if current in children:
            pending.extend(children[current])
        else:
            leaves.add(current)
    return leaves


async def apply_departments(deps: Deps, departments: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    """Mirror the departments; make each store department a store. Returns department id → store id."""
    org = deps.config[ORG]
    listed = {int(d["id"]) for d in departments}
    stores = store_departments(org.store_root, departments) | (set(org.departments) & listed)
    store_of: dict[int, int] = {}
    for department in departments:
        department_id = int(department["id"])
        name = str(department.get("name", ""))[:64]
        store_id: int | None = None
        if department_id in stores:
            code = org.departments.get(department_id) or f"d{department_id}"
            conf = org.stores.get(code)
            store, created = await Store.get_or_create(code=code, defaults={"name": (conf and conf.name) or name})
            if not created and not (conf and conf.name) and store.name != name:
                store.name = name  # renamed in WeCom; org.yaml names win where they are given
                await store.save(update_fields=["name"])
            store_id = store_of[department_id] = store.id
        values = {"name": name, "parent_id": int(department.get("parentid", 0)),
                  "order": int(department.get("order", 0)), "leaders": list(department.get("department_leader") or []),
                  "store_id": store_id, "deleted": False}
        await OrgDepartment.update_or_create(id=department_id, defaults=values)
    await OrgDepartment.filter(deleted=False).exclude(id__in=listed or [0]).update(deleted=True, store_id=None)
    return store_of


async def refresh_departments(deps: Deps) -> dict[int, int]:
    """Read ``department/list`` again (a ``*_party`` callback) and apply it."""
    return await apply_departments(deps, await deps.wecom.list_departments())


async def _stores_by_department() -> dict[int, int]:
    rows = await OrgDepartment.filter(deleted=False, store_id__not_isnull=True).values_list("id", "store_id")
    return {int(d): int(s) for d, s in rows}


# --- members -----------------------------------------------------------------------------------------


async def _configured_store_ids(codes: Iterable[str]) -> dict[str, int]:
    return {store.code: store.id for store in await Store.filter(code__in=list(codes))}


def _store_of(info: MemberInfo, store_of: Mapping[int, int]) -> int | None:
    for department in (info.main_department, *info.departments):
        if department in store_of:
            return store_of[department]
    return None


async def _store_named_manager(deps: Deps, store_id: int) -> bool:
    """Whether org.yaml names a store manager for this store (then leaders do not become one)."""
    org = deps.config[ORG]
    codes = {m.store for m in org.members.values() if m.role == Role.STORE_MANAGER and m.store}
    if not codes:
        return False
    return await Store.filter(id=store_id, code__in=list(codes)).exists()


async def apply_member(deps: Deps, info: MemberInfo, store_of: Mapping[int, int], at: datetime) -> MemberChange:
    """Upsert the guide row of one member; the store and name from org.yaml win over WeCom's."""
    conf = deps.config[ORG].members.get(info.userid)
    store_id = _store_of(info, store_of)
    if conf is not None and conf.store:
        store_id = (await _configured_store_ids([conf.store])).get(conf.store, store_id)
    name = (conf.name if conf and conf.name else info.name)[:64]
    guide, created = await Guide.get_or_create(userid=info.userid, defaults={"name": name, "store_id": store_id})
    member = await OrgMember.get_or_none(guide_id=guide.id)
    moved = not created and guide.store_id != store_id
    guide.name, guide.store_id, guide.active = name, store_id, info.status in _ACTIVE_STATUSES
    leads_store = store_id is not None and any(store_of.get(d) == store_id for d in info.leads)
    led_before = member is not None and not moved and any(store_of.get(d) == store_id for d in member.leads)
    from_leader = member.manager_from_leader if member is not None else False
    role = Role(guide.role)
    if guide.role_source == ROLE_FROM_CHAT:
        from_leader = False  # an admin decided this role in chat (角色): the address book no longer changes it
    elif leads_store and not led_before and role == Role.GUIDE and store_id is not None \
            and not await _store_named_manager(deps, store_id):
        role, from_leader = Role.STORE_MANAGER, True
        log.info("org_leader_made_manager", userid=info.userid, store_id=store_id)
    elif not leads_store and from_leader and role == Role.STORE_MANAGER:
        role, from_leader = Role.GUIDE, False
        log.info("org_manager_no_longer_leads", userid=info.userid)
    await guide.save(update_fields=["name", "store_id", "active", "updated_at"])
    if role != guide.role:
        # Compare-and-set: a role an admin sets in chat meanwhile is theirs, not ours to overwrite.
        changed = await Guide.filter(id=guide.id, role=guide.role).exclude(role_source=ROLE_FROM_CHAT).update(
            role=role
        )
        from_leader = from_leader if changed else False
    values = {"departments": list(info.departments), "main_department": info.main_department,
              "leads": list(info.leads), "status": info.status, "manager_from_leader": from_leader,
              "synced_at": at, "deleted_at": None if info.status in _ACTIVE_STATUSES else at}
    await OrgMember.update_or_create(guide_id=guide.id, defaults=values)
    if moved:
        log.info("org_member_moved", userid=info.userid, store_id=store_id)
    return MemberChange(guide.id, created, moved, store_id)


async def refresh_member(deps: Deps, userid: str) -> MemberChange | None:
    """Read one member again (``create_user`` / ``update_user``); None when WeCom no longer has them."""
    try:
        user = await deps.wecom.get_user(userid)
    except WeComError as err:
        if err.errcode == _USERID_NOT_FOUND:
            return None
        raise
    return await apply_member(deps, MemberInfo.of(user), await _stores_by_department(), deps.clock.now())


async def _listed_userids(deps: Deps) -> list[str]:
    userids: dict[str, None] = {}
    cursor = ""
    while True:
        page = await deps.wecom.list_user_ids(cursor)
        for pair in page.get("dept_user") or []:
            userids[str(pair["userid"])] = None
        cursor = str(page.get("next_cursor") or "")
        if not cursor:
            return list(userids)


async def sync_org(deps: Deps, *, progress: Progress | None = None) -> OrgSyncResult:
    """The whole address book, now: departments, stores, every member; members WeCom no longer
    lists (and we had seen) are recorded as left. The callers tell the members' managers."""
    result = OrgSyncResult()
    departments = await deps.wecom.list_departments()
    store_of = await apply_departments(deps, departments)
    result.departments, result.stores = len(departments), len(set(store_of.values()))
    userids = await _listed_userids(deps)
    if progress is not None:
        progress.set_total(len(userids))
    at = deps.clock.now()
    gate = asyncio.Semaphore(_USER_GET_CONCURRENCY)

    async def one(userid: str) -> MemberChange | None:
        async with gate:
            try:
                user = await deps.wecom.get_user(userid)
            except WeComError as err:
                if err.errcode != _USERID_NOT_FOUND:
                    raise
                return None  # deleted between the listing and now: the next sync or its callback says so
            change = await apply_member(deps, MemberInfo.of(user), store_of, at)
        if progress is not None:
            progress.advance()
        return change

    changes = [c for c in await asyncio.gather(*(one(u) for u in userids)) if c is not None]
    if progress is not None:
        progress.finish()
    result.members = len(changes)
    result.created = sum(c.created for c in changes)
    result.moved = sum(c.moved for c in changes)
    gone = await OrgMember.filter(deleted_at__isnull=True).exclude(guide__userid__in=userids or [""]).values_list(
        "guide__userid", flat=True
    )
    result.left = [str(u) for u in gone]
    log.info("org_synced", departments=result.departments, stores=result.stores, members=result.members,
             created=result.created, moved=result.moved, left=len(result.left))
    return result


# --- a member who left (delete_user, or gone from the address book) ------------------------------------


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
    notice = DepartureNotice(
        left=Member(userid, guide.name),
        departed_at=int((member.deleted_at or at).timestamp()),
        customers=customers,
        taker=Member(taker.userid, taker.name) if taker else None,
        recipients=tuple(r.userid for r in recipients),
    )
    told = await send_departure_notice(deps, notice)
    if not recipients:
        log.warning("org_member_left_nobody_to_tell", userid=userid, customers=customers)
    log.info("org_member_left", userid=userid, customers=customers, taker=taker.userid if taker else None,
             told=len(told))
    return Departure(userid, customers, taker.userid if taker else None, told)


async def sync_and_tell(deps: Deps, *, progress: Progress | None = None) -> OrgSyncResult:
    """``sync_org``, then the managers of members who left are told (once each)."""
    result = await sync_org(deps, progress=progress)
    for userid in result.left:
        await member_left(deps, userid, deps.clock.now())
    return result


async def scheduled_sync(deps: Deps) -> OrgSyncResult:
    """The scheduled full sync (``SCRM_ORG_SYNC_CRON``) catches any callback WeCom did not deliver;
    the channel codes follow the organisation it found."""
    result = await sync_and_tell(deps)
    await sync_channels(deps)
    return result


# --- change_contact callbacks (handlers/orgsync.py) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrgCallback:
    """A ``change_contact`` callback, as the sync needs it."""

    cause: str  # its ChangeType ("create_user", "delete_party" …)
    userid: str  # the member it names, as WeCom names them now ("" for a department)
    at: datetime
    key: str  # the callback's key: what it publishes is de-duplicated by it


async def member_updated(deps: Deps, callback: OrgCallback) -> None:
    """``create_user`` / ``update_user``: read the member again."""
    await refresh_member(deps, callback.userid)
    await org_changed(deps, callback.cause, callback.key)


async def member_deleted(deps: Deps, callback: OrgCallback) -> None:
    """``delete_user``: recorded as left; their customers' hand-over is suggested to a manager."""
    await member_left(deps, callback.userid, callback.at)
    await org_changed(deps, callback.cause, callback.key)


async def departments_changed(deps: Deps, callback: OrgCallback) -> None:
    """``*_party``: read the departments (and so the stores) again."""
    await refresh_departments(deps)
    await org_changed(deps, callback.cause, callback.key)
