"""What the channel commands answer (``handlers/channels.py``): find, make and show codes, and the
figures. Replies and refusals are config/templates.yaml's ``cmd_channel_*`` / ``cmd_my_code*``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.commands import Caller, CommandError, say
from bot.deps import Deps
from bot.errors import RetryLater
from channels import service
from channels.image import send_code_image
from channels.models import ContactWay
from channels.report import channel_figures, format_figures
from channels.service import CHAT, GUIDE, Desired, ensure_code, new_state, one_writer, personal_state
from customers.models import Guide, Store
from customers.scope import Scope

__all__ = [
    "Targets", "channel_code_reply", "channel_report_reply", "create_code", "find_code", "my_code", "my_code_reply",
    "new_code_reply", "resolve_targets", "show_code",
]

MAX_MEMBERS = 100  # WeCom's limit of members on one contact way
MAX_NAME = 64
MAX_DAYS = 366
REPORT_ROWS = 15


@dataclass(frozen=True, slots=True)
class Targets:
    store: Store | None
    guides: tuple[Guide, ...]
    campaign: str


def refuse(deps: Deps, template_id: str, **values: object) -> CommandError:
    return CommandError(say(deps, template_id, **values))


async def find_code(deps: Deps, name: str) -> ContactWay:
    """A live code by its name or state."""
    way = await service.live_code_named(name)
    if way is None:
        raise refuse(deps, "cmd_channel_not_found", name=name)
    return way


async def show_code(deps: Deps, userid: str, way: ContactWay, event_key: str) -> None:
    await send_code_image(deps, userid, way, event_key)


async def resolve_targets(deps: Deps, words: Sequence[str]) -> Targets:
    """Stores (code or name) and guides (userid or name); a last word that is neither is the campaign."""
    store: Store | None = None
    guides: list[Guide] = []
    campaign = ""
    for index, word in enumerate(words):
        found_store = await service.store_named(word)
        if found_store is not None:
            if store is not None and store.id != found_store.id:
                raise refuse(deps, "cmd_channel_one_store")
            store = found_store
            continue
        guide = await service.active_member_named(word)
        if guide is not None:
            guides.append(guide)
            continue
        if index == len(words) - 1 and (store is not None or guides):
            campaign = word[:64]
            continue
        raise refuse(deps, "cmd_channel_unknown_target", name=word)
    if store is None and not guides:
        raise refuse(deps, "cmd_channel_no_target")
    if len(guides) > MAX_MEMBERS:
        raise refuse(deps, "cmd_channel_too_many", count=MAX_MEMBERS)
    return Targets(store, tuple(guides), campaign)


async def _ensure(deps: Deps, desired: Desired) -> ContactWay | None:
    try:
        async with one_writer(deps, wait_s=10):
            return await ensure_code(deps, desired)
    except RetryLater:  # a chat answer cannot wait: the member is told to try again
        raise refuse(deps, "cmd_channel_busy") from None


async def create_code(deps: Deps, creator: str, name: str, targets: Targets) -> ContactWay:
    if len(name) > MAX_NAME:
        raise refuse(deps, "cmd_channel_name_too_long", count=MAX_NAME)
    if await service.channel_name_taken(name):
        raise refuse(deps, "cmd_channel_exists", name=name)
    store_id = targets.store.id if targets.store else (targets.guides[0].store_id if targets.guides else None)
    if targets.guides:
        users: tuple[str, ...] = tuple(dict.fromkeys(g.userid for g in targets.guides))
        parties: tuple[int, ...] = ()
    else:
        assert targets.store is not None
        users, parties = await service.store_members(targets.store.id)
    if not users and not parties:
        raise refuse(deps, "cmd_channel_store_empty")
    guide = users[0] if len(users) == 1 and targets.guides else None
    welcome = "welcome_campaign" if targets.campaign else ("welcome_store" if store_id else "welcome_default")
    desired = Desired(await new_state("c", f"{name}:{creator}"), name, CHAT, store_id, guide, users, parties,
                      targets.campaign, welcome, creator, tuple(users) if targets.guides else ())
    way = await _ensure(deps, desired)
    if way is None:
        raise refuse(deps, "cmd_channel_refused")
    await way.fetch_related("channel")
    return way


async def my_code(deps: Deps, userid: str) -> ContactWay:
    """The caller's personal code; made now if the sync has not made it yet."""
    way = await service.personal_code(userid)
    if way is None:
        guide = await service.member(userid)
        desired = Desired(personal_state(userid), service.personal_code_name(deps, guide), GUIDE, guide.store_id,
                          userid, (userid,), welcome="welcome_store" if guide.store_id else "welcome_default")
        way = await _ensure(deps, desired)
        if way is None:
            raise refuse(deps, "cmd_my_code_refused")
    await way.fetch_related("channel")
    return way


def _scope(caller: Caller) -> Scope:
    return Scope.of(caller.userid, caller.role, caller.guide_id, caller.store_id)


# --- the replies (one per command) --------------------------------------------------------------------


async def channel_code_reply(deps: Deps, caller: Caller, name: str, event_key: str) -> str:
    """``渠道码 <名称>``: the code's picture, then what it is; a code outside the caller's scope is not found."""
    way = await find_code(deps, name)
    if not _scope(caller).sees_code(way.channel.store_id, way.channel.guide_userid):
        raise refuse(deps, "cmd_channel_not_found", name=name)
    userid = caller.userid
    await show_code(deps, userid, way, event_key)
    store = await service.store_of(way.channel.store_id)
    return say(deps, "cmd_channel_code", name=way.channel.name, detail=way.channel.state,
               store=store.name if store else say(deps, "cmd_channel_store_none"))


async def new_code_reply(deps: Deps, userid: str, name: str, target_words: Sequence[str], event_key: str) -> str:
    """``新建渠道码 <名称> <门店|导购…> [活动]``: the code made, its picture, what it is."""
    targets = await resolve_targets(deps, target_words)
    way = await create_code(deps, userid, name, targets)
    await show_code(deps, userid, way, event_key)
    members = "、".join(g.name or g.userid for g in targets.guides) or (targets.store.name if targets.store else "")
    detail = say(deps, "cmd_channel_members", detail=way.channel.state, members=members)
    if targets.campaign:
        detail += say(deps, "cmd_channel_campaign", name=targets.campaign)
    return say(deps, "cmd_channel_created", name=way.channel.name, detail=detail)


async def my_code_reply(deps: Deps, caller: Caller, event_key: str) -> str:
    """``我的码``: the caller's personal code (made now if need be)."""
    way = await my_code(deps, caller.userid)
    await show_code(deps, caller.userid, way, event_key)
    store = await service.store_of(way.channel.store_id)
    return say(deps, "cmd_my_code", name=caller.name,
               store=store.name if store else say(deps, "cmd_my_code_store_none"))


async def channel_report_reply(deps: Deps, caller: Caller, days_text: str) -> str:
    """``渠道数据 [天数]``: each code's figures over the last days (a store manager: their store's codes; a
    member who sees no store: a refusal)."""
    raw = days_text.removesuffix("天")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        raise refuse(deps, "cmd_channel_days")
    days = int(raw)
    scope, store = _scope(caller), None
    if not scope.sees_all_stores():
        own = await service.store_of(scope.store)
        if own is None:
            raise refuse(deps, "cmd_channel_report_no_store")
        store = own.code
    now = deps.clock.now()
    rows = await channel_figures(now - timedelta(days=days), now, store=store)
    lines = "\n".join(format_figures(deps.config.templates, rows[:REPORT_ROWS]))
    if store:
        return say(deps, "cmd_channel_report_store", count=days, store=store, lines=lines)
    return say(deps, "cmd_channel_report", count=days, lines=lines)
