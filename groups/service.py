"""Group codes (群活码) as WeCom join ways, kept in step like the channel codes, and never full.

Three kinds: ``store`` — one code per store, owned by its manager; ``config`` — a campaign code of
config/groups.yaml; ``chat`` — made with ``新建群码``. ``sync_codes`` makes each missing code
(``add_join_way`` with a state each), updates one whose groups changed (``update_join_way``) and
deletes one no longer wanted (``del_join_way``); run again, it calls WeCom for nothing.

Never full: a code lists (``chat_id_list``, ≤ 5) its groups under ``group_full_at`` members, oldest
first (WeCom fills the first listed group that has room). When a member-change callback takes a
listed group to the mark, the worker takes it out and lists the next group of the code: one the
owner made, or the one WeCom opened itself (``auto_create_room``, ``room_base_name`` + number).
With no other group left the full one stays listed, so the code keeps working, until WeCom opens
the next group at 200. A periodic check (``check_codes``) does the same from WeCom's own answers,
in case a callback was lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from tortoise.exceptions import IntegrityError

from bot.deps import Deps
from bot.lease import exclusive
from bot.progress import Progress
from bot.wecom.errors import WeComPermanentError
from customers.models import GroupChat, Guide, Role, Store
from customers.service import utc_from_unix
from groups import wecomapi, welcome
from groups.config import GROUPS
from groups.models import GroupCode, GroupCodeChat, GroupJoin

__all__ = [
    "CHAT", "CONFIG", "STORE", "TEMPLATES", "CodeSyncResult", "Desired", "ChatChange", "check_codes", "code_named",
    "ensure_code", "listing", "live_codes", "new_chat_code", "on_chat_changed", "store_owner", "sync_codes",
]

log = structlog.get_logger(__name__)

STORE, CONFIG, CHAT = "store", "config", "chat"
STATE_MAX = 30
LIST_MAX = 5  # groups in one join way's chat_id_list
TEMPLATES = ("group_store_code",)


@dataclass(frozen=True, slots=True)
class Desired:
    name: str
    kind: str
    state: str
    store_id: int | None
    owner: str
    room_base_name: str
    campaign: str = ""
    welcome: str = ""
    created_by: str = ""


@dataclass(slots=True)
class CodeSyncResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # codes whose owner has no group yet
    failed: list[tuple[str, str]] = field(default_factory=list)
    welcomes: welcome.WelcomeSyncResult | None = None


@dataclass(frozen=True, slots=True)
class ChatChange:
    """A ``change_external_chat`` callback as the service needs it."""

    chat_id: str
    change_type: str  # create / update
    detail: str  # add_member, del_member …
    state: str  # the join way's State, when WeCom sent it
    at: datetime  # the callback's CreateTime


def _state(prefix: str, key: str) -> str:
    state = f"{prefix}_{key}"
    return state if len(state) <= STATE_MAX else f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def store_code_state(store_code: str) -> str:
    return _state("gs", store_code)


def config_code_state(name: str) -> str:
    return _state("gc", hashlib.sha256(name.encode()).hexdigest()[:16])


@asynccontextmanager
async def _one_at_a_time(deps: Deps, key: str, wait_s: float = 10.0) -> AsyncIterator[None]:
    # Two callbacks of one code handled at once could each list a different group.
    lock = f"{{{deps.settings.scrm_redis_prefix}}}:groups:{key}"
    # Another worker changing this code's list: RetryLater, the event is handled again in a moment.
    async with exclusive(deps.redis, lock, 60, f"group code {key} is being changed", wait_s=wait_s, defer_s=0.5):
        yield


async def store_owner(store_id: int) -> str | None:
    """Who owns a store's groups: its manager, else its first active guide."""
    manager = await Guide.filter(store_id=store_id, active=True, role=Role.STORE_MANAGER).order_by("id").first()
    guide = manager or await Guide.filter(store_id=store_id, active=True, role=Role.GUIDE).order_by("id").first()
    return guide.userid if guide else None


def _room_base(deps: Deps, store_name: str) -> str:
    return deps.config[GROUPS].room_base_name.replace("{store}", store_name)[:40]


async def _desired(deps: Deps) -> list[Desired]:
    conf = deps.config[GROUPS]
    stores = {s.code: s for s in await Store.all().order_by("id")}
    wanted: list[Desired] = []
    if conf.store_codes:
        for store in stores.values():
            owner = await store_owner(store.id)
            if owner is None:
                continue
            name = deps.config.templates.render("group_store_code", name=store.name)
            wanted.append(Desired(name, STORE, store_code_state(store.code), store.id, owner,
                                  _room_base(deps, store.name)))
    for code in conf.codes:
        code_store = stores.get(code.store)
        owner = code.owner or (await store_owner(code_store.id) if code_store else None)
        if owner is None:
            log.warning("group_code_without_owner", code=code.name)
            continue
        wanted.append(Desired(code.name, CONFIG, config_code_state(code.name), code_store.id if code_store else None,
                              owner,
                              code.name[:40], code.campaign, code.welcome))
    for row in await GroupCode.filter(kind=CHAT, deleted_at__isnull=True).order_by("id"):
        wanted.append(Desired(row.name, CHAT, row.state, row.store_id, row.owner_userid, row.room_base_name,
                              row.campaign, row.welcome, row.created_by))
    return wanted


def _body(code: GroupCode, chat_ids: Sequence[str]) -> dict[str, Any]:
    return {"scene": 2, "remark": code.name[:30], "auto_create_room": 1, "room_base_name": code.room_base_name,
            "room_base_id": code.room_base_id, "chat_id_list": list(chat_ids), "state": code.state}


async def _mirror_owner_groups(deps: Deps, owners: Sequence[str]) -> None:
    """Groups of these owners that the mirror has not seen yet (made before the product ran)."""
    from customers.groupchats import refresh_chat

    known = {str(c) for c in await GroupChat.filter(owner_userid__in=list(owners)).values_list("chat_id", flat=True)}
    for start in range(0, len(owners), 100):
        for chat_id in await wecomapi.list_owner_chats(deps, owners[start:start + 100]):
            if chat_id not in known:
                await refresh_chat(deps, chat_id)


async def _adopt_owner_groups(deps: Deps, code: GroupCode) -> None:
    """A new code starts with its owner's live groups that no other code has."""
    taken = {str(c) for c in await GroupCodeChat.all().values_list("chat_id", flat=True)}
    chats = await GroupChat.filter(owner_userid=code.owner_userid, dismissed_at__isnull=True).order_by("created_at")
    for chat in chats:
        if chat.chat_id not in taken:
            await GroupCodeChat.create(code=code, chat_id=chat.chat_id, members=chat.member_count,
                                       added_at=chat.created_at or deps.clock.now())


async def listing(deps: Deps, code: GroupCode) -> list[str]:
    """The groups the code should list: those under the full mark that never rolled over, oldest first;
    none left, the newest."""
    full_at = deps.config[GROUPS].group_full_at
    chats = await GroupCodeChat.filter(code_id=code.id).order_by("added_at", "id")
    # A group that rolled over stays out, even when a few leave it: joiners go to the newer groups.
    room = [c.chat_id for c in chats if c.members < full_at and c.unlisted_at is None]
    if room:
        return room[:LIST_MAX]
    return [chats[-1].chat_id] if chats else []


async def relist(deps: Deps, code: GroupCode) -> bool:
    """Make WeCom list what ``listing`` says; True when the list changed."""
    wanted = await listing(deps, code)
    listed = await GroupCodeChat.filter(code_id=code.id, listed=True).order_by("added_at", "id")
    if not wanted or [c.chat_id for c in listed] == wanted or not code.config_id:
        return False
    await wecomapi.update_join_way(deps, code.config_id, _body(code, wanted))
    now = deps.clock.now()
    for chat in listed:
        if chat.chat_id not in wanted:
            await GroupCodeChat.filter(id=chat.id).update(listed=False, unlisted_at=now)
            log.info("group_rolled_over", code=code.state, chat_id=chat.chat_id, members=chat.members)
    await GroupCodeChat.filter(code_id=code.id, chat_id__in=wanted).update(listed=True, unlisted_at=None)
    return True


async def _row(desired: Desired) -> GroupCode:
    values: dict[str, Any] = {"name": desired.name[:64], "kind": desired.kind, "store_id": desired.store_id,
              "owner_userid": desired.owner, "campaign": desired.campaign[:64], "welcome": desired.welcome,
              "room_base_name": desired.room_base_name[:40], "created_by": desired.created_by}
    code = await GroupCode.get_or_none(state=desired.state)
    if code is None:
        return await GroupCode.create(state=desired.state, **values)
    changed = {k: v for k, v in values.items() if getattr(code, k) != v}
    if changed:
        await GroupCode.filter(id=code.id).update(**changed)
        await code.refresh_from_db()
    return code


async def ensure_code(deps: Deps, desired: Desired, result: CodeSyncResult | None = None) -> GroupCode | None:
    """The code as ``desired`` says, made in WeCom if it is not yet (None: no group to list, or refused)."""
    result = result if result is not None else CodeSyncResult()
    code = await _row(desired)
    try:
        async with _one_at_a_time(deps, f"code:{code.id}", wait_s=30):
            if code.config_id and code.deleted_at is None:
                if await relist(deps, code):
                    result.updated += 1
                else:
                    result.unchanged += 1
                return code
            await _adopt_owner_groups(deps, code)
            chat_ids = await _make_way(deps, code)
            if not chat_ids:
                result.skipped.append(desired.name)
                return None
            result.created += 1
        for chat in await GroupChat.filter(chat_id__in=chat_ids):
            await welcome.hint_owner(deps, code, chat.chat_id, chat.name)
        return code
    except WeComPermanentError as err:
        result.failed.append((desired.name, err.errmsg))
        log.warning("group_code_refused", code=desired.state, errcode=err.errcode, errmsg=err.errmsg)
        return None


async def _make_way(deps: Deps, code: GroupCode) -> list[str]:
    """``add_join_way`` over the code's groups (under its lock); the groups listed, none: it waits."""
    chat_ids = await listing(deps, code)
    if not chat_ids:
        log.info("group_code_waits_for_a_group", code=code.state, owner=code.owner_userid)
        return []
    config_id = await wecomapi.add_join_way(deps, _body(code, chat_ids))
    way = await wecomapi.get_join_way(deps, config_id)
    await GroupCode.filter(id=code.id).update(config_id=config_id, qr_code=str(way.get("qr_code", "")),
                                              deleted_at=None, media_id="")
    await GroupCodeChat.filter(code_id=code.id, chat_id__in=chat_ids).update(listed=True)
    await code.refresh_from_db()
    log.info("group_code_created", code=code.state, kind=code.kind, groups=len(chat_ids))
    return chat_ids


async def _delete(deps: Deps, code: GroupCode, result: CodeSyncResult) -> None:
    try:
        if code.config_id:
            await wecomapi.del_join_way(deps, code.config_id)
    except WeComPermanentError as err:  # gone already: what we wanted is true
        log.info("group_code_already_gone", code=code.state, errcode=err.errcode)
    await GroupCode.filter(id=code.id).update(deleted_at=deps.clock.now(), config_id=None, media_id="")
    await GroupCodeChat.filter(code_id=code.id).update(listed=False)
    result.deleted += 1
    log.info("group_code_deleted", code=code.state)


async def sync_codes(deps: Deps, *, progress: Progress | None = None) -> CodeSyncResult:
    """Every wanted group code made or updated in WeCom; codes no longer wanted deleted. Safe to re-run."""
    async with _one_at_a_time(deps, "writer", wait_s=30):
        result = CodeSyncResult(welcomes=await welcome.sync_welcomes(deps))
        wanted = await _desired(deps)
        new_owners = [d.owner for d in wanted
                      if not await GroupCode.exists(state=d.state, config_id__not_isnull=True)]
        if new_owners:
            await _mirror_owner_groups(deps, sorted(set(new_owners)))
        if progress is not None:
            progress.set_total(len(wanted))
        for desired in wanted:
            await ensure_code(deps, desired, result)
            if progress is not None:
                progress.advance()
        states = {d.state for d in wanted}
        for code in await GroupCode.filter(deleted_at__isnull=True, config_id__not_isnull=True):
            if code.state not in states:
                await _delete(deps, code, result)
        waiting = GroupCode.filter(deleted_at__isnull=True, config_id__isnull=True)
        await waiting.exclude(state__in=sorted(states)).update(deleted_at=deps.clock.now())  # no longer wanted
        if progress is not None:
            progress.finish()
        log.info("group_codes_synced", created=result.created, updated=result.updated, deleted=result.deleted,
                 unchanged=result.unchanged, skipped=len(result.skipped), failed=len(result.failed))
        return result


async def new_chat_code(deps: Deps, creator: str, name: str, store: Store) -> GroupCode | None:
    """``新建群码``: a code for one store's owner over their newest group no code has; without one, the
    code waits for the owner's next group (``config_id`` empty). None: the store has nobody to own it,
    or WeCom refused."""
    owner = await store_owner(store.id)
    if owner is None:
        return None
    desired = Desired(name, CHAT, config_code_state(f"chat:{name}"), store.id, owner, name[:40], created_by=creator)
    await _mirror_owner_groups(deps, [owner])
    result = CodeSyncResult()
    code = await ensure_code(deps, desired, result)
    if result.failed:  # refused by WeCom: the name stays free
        await GroupCode.filter(state=desired.state, config_id__isnull=True).delete()
        return None
    return code if code is not None else await GroupCode.get(state=desired.state)


# --- member changes: attribution and rollover --------------------------------------------------------


async def _code_of_new_chat(detail: dict[str, Any], change: ChatChange) -> GroupCode | None:
    """Which code a group we have not seen belongs to: by the join way's state, by WeCom's automatic
    name (``room_base_name`` + number), else a group its owner made for their one code."""
    states = {change.state} | {str(m.get("state", "")) for m in detail.get("member_list", [])}
    states.discard("")
    live = GroupCode.filter(deleted_at__isnull=True, config_id__not_isnull=True)
    if states:
        code = await live.filter(state__in=sorted(states)).first()
        if code is not None:
            return code
    owner, name = str(detail.get("owner", "")), str(detail.get("name", ""))
    owned = await live.filter(owner_userid=owner).order_by("id")
    named = [c for c in owned if c.room_base_name and name.startswith(c.room_base_name)]
    if named:
        return max(named, key=lambda c: len(c.room_base_name))
    if change.change_type == "create" and owned:
        return next((c for c in owned if c.kind == STORE), owned[0])
    return None


def _auto_number(code: GroupCode, name: str) -> int | None:
    tail = name.removeprefix(code.room_base_name) if code.room_base_name else ""
    return int(tail) if tail.isdigit() and name != tail else None


async def _attach(deps: Deps, code: GroupCode, chat_id: str, detail: dict[str, Any], at: datetime) -> GroupCodeChat:
    number = _auto_number(code, str(detail.get("name", "")))
    if number is not None and number >= code.room_base_id:
        # WeCom counted up when it opened this group: an update must not send the old number back.
        code.room_base_id = number + 1
        await GroupCode.filter(id=code.id).update(room_base_id=code.room_base_id)
    created = utc_from_unix(detail.get("create_time")) or at
    try:
        link = await GroupCodeChat.create(code=code, chat_id=chat_id, members=len(detail.get("member_list", [])),
                                          added_at=created)
    except IntegrityError:
        link = await GroupCodeChat.get(chat_id=chat_id)
    log.info("group_joined_code", code=code.state, chat_id=chat_id)
    return link


async def _attribute(code: GroupCode, chat_id: str, detail: dict[str, Any], at: datetime) -> int:
    """Customers who came in through this code's join way (their ``state``): one row each."""
    came = [m for m in detail.get("member_list", [])
            if int(m.get("type", 1) or 1) == 2 and m.get("state") == code.state and m.get("userid")]
    if not came:
        return 0
    known = {str(e) for e in await GroupJoin.filter(chat_id=chat_id).values_list("external_userid", flat=True)}
    rows = [GroupJoin(chat_id=chat_id, external_userid=str(m["userid"]), code_id=code.id, store_id=code.store_id,
                      owner_userid=str(detail.get("owner", "")), state=code.state,
                      join_scene=int(m.get("join_scene", 0) or 0),
                      joined_at=utc_from_unix(m.get("join_time")) or at)
            for m in came if str(m["userid"]) not in known]
    if rows:
        await GroupJoin.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


async def _start_waiting_code(deps: Deps, detail: dict[str, Any], change: ChatChange) -> bool:
    """A new group of an owner whose code waits for one (made by chat or config before any group):
    the code takes it and its join way is made now. True when one did."""
    owner, name = str(detail.get("owner", "")), str(detail.get("name", ""))
    waiting = await GroupCode.filter(owner_userid=owner, config_id__isnull=True, deleted_at__isnull=True).order_by(
        "id").first()
    if waiting is None:
        return False
    live = await GroupCode.filter(owner_userid=owner, deleted_at__isnull=True, config_id__not_isnull=True)
    if any(_auto_number(code, name) is not None for code in live):
        return False  # WeCom opened it for a full code of this owner: it belongs to that code
    async with _one_at_a_time(deps, f"code:{waiting.id}"):
        await waiting.refresh_from_db()
        if waiting.config_id:
            return False  # another group of the owner started it a moment ago
        await _attach(deps, waiting, change.chat_id, detail, change.at)
        chat_ids = await _make_way(deps, waiting)
    await welcome.hint_owner(deps, waiting, change.chat_id, str(detail.get("name", "")))
    return bool(chat_ids)


async def on_chat_changed(deps: Deps, change: ChatChange) -> GroupCodeChat | None:
    """A group was created or its members changed: attribute newcomers, and roll the code over when
    the group reached the full mark. None when the group belongs to no code."""
    if change.change_type != "create" and not change.state and not await GroupCodeChat.exists(chat_id=change.chat_id):
        return None  # no code's group, and nobody came in through a code: nothing to ask WeCom
    try:
        detail = await deps.wecom.groupchat_get(change.chat_id)
    except WeComPermanentError as err:  # dismissed since: its dismiss event follows
        log.info("group_gone", chat_id=change.chat_id, errcode=err.errcode)
        return None
    link = await GroupCodeChat.get_or_none(chat_id=change.chat_id).prefetch_related("code")
    if link is None and change.change_type == "create" and await _start_waiting_code(deps, detail, change):
        return await GroupCodeChat.get_or_none(chat_id=change.chat_id)
    code = link.code if link is not None else await _code_of_new_chat(detail, change)
    if code is None or code.deleted_at is not None:
        return None
    async with _one_at_a_time(deps, f"code:{code.id}"):
        await code.refresh_from_db()
        attached = link is None
        if link is None:
            link = await _attach(deps, code, change.chat_id, detail, change.at)
        members = len(detail.get("member_list", []))
        full_at = deps.config[GROUPS].group_full_at
        if members >= full_at and link.full_at is None:
            link.full_at = change.at
        elif members < full_at and link.unlisted_at is None:
            link.full_at = None
        link.members = members
        await link.save(update_fields=["members", "full_at"])
        joined = await _attribute(code, change.chat_id, detail, change.at)
        rolled = await relist(deps, code)
        if attached:
            await welcome.hint_owner(deps, code, change.chat_id, str(detail.get("name", "")))
        log.info("group_changed", code=code.state, chat_id=change.chat_id, members=members, attributed=joined,
                 rolled_over=rolled)
    return link


async def check_codes(deps: Deps) -> int:
    """The backstop: every live code's groups counted from WeCom (and any group WeCom opened and
    listed by itself taken in), then listed as they should be. The number of codes changed."""
    changed = 0
    full_at = deps.config[GROUPS].group_full_at
    for code in await GroupCode.filter(deleted_at__isnull=True, config_id__not_isnull=True).order_by("id"):
        assert code.config_id is not None
        try:
            way = await wecomapi.get_join_way(deps, code.config_id)
        except WeComPermanentError as err:
            log.warning("group_code_missing_in_wecom", code=code.state, errcode=err.errcode)
            continue
        async with _one_at_a_time(deps, f"code:{code.id}"):
            await code.refresh_from_db()
            known = {c.chat_id: c for c in await GroupCodeChat.filter(code_id=code.id)}
            now = deps.clock.now()
            for chat_id in [str(c) for c in way.get("chat_id_list", [])] + list(known):
                link = known.get(chat_id)
                if link is not None and not link.listed and link.members >= full_at:
                    continue  # a full group out of the list stays out
                try:
                    detail = await deps.wecom.groupchat_get(chat_id)
                except WeComPermanentError:
                    continue
                if link is None:
                    link = known[chat_id] = await _attach(deps, code, chat_id, detail, now)
                members = len(detail.get("member_list", []))
                if members != link.members:
                    link.members = members
                    link.full_at = link.full_at or (now if members >= full_at else None)
                    await link.save(update_fields=["members", "full_at"])
                await _attribute(code, chat_id, detail, now)
            if await relist(deps, code):
                changed += 1
    return changed


# --- lookups ---------------------------------------------------------------------------------------------


async def live_codes() -> list[GroupCode]:
    return list(await GroupCode.filter(deleted_at__isnull=True, config_id__not_isnull=True)
                .prefetch_related("store").order_by("kind", "id"))


async def code_named(name: str) -> GroupCode | None:
    """A code by its name, else its state: live, or waiting for its first group."""
    live = GroupCode.filter(deleted_at__isnull=True)
    return await live.filter(name=name).first() or await live.filter(state=name).first()
