"""What the channel commands do (``handlers/channels.py``): find, make and show codes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.commands import CommandError, say
from bot.deps import Deps
from channels.image import send_code_image
from channels.models import ContactWay
from channels.report import channel_figures, format_figures
from channels.service import (
    CHAT,
    GUIDE,
    ChannelSyncBusy,
    Desired,
    ensure_code,
    new_state,
    one_writer,
    personal_state,
    store_members,
)
from customers.models import ChannelCode, Guide, Store

__all__ = ["Targets", "channel_report", "create_code", "find_code", "my_code", "resolve_targets", "show_code"]


@dataclass(frozen=True, slots=True)
class Targets:
    store: Store | None
    guides: tuple[Guide, ...]
    campaign: str


async def _live_way(channel: ChannelCode) -> ContactWay | None:
    return await ContactWay.get_or_none(channel_id=channel.id, deleted_at__isnull=True, config_id__not_isnull=True)


async def find_code(name: str) -> ContactWay:
    """A live code by its name or state."""
    for channel in await ChannelCode.filter(name=name) + await ChannelCode.filter(state=name):
        way = await _live_way(channel)
        if way is not None:
            await way.fetch_related("channel")
            return way
    raise CommandError(f"没有找到渠道码「{name}」（可用名称或 state；发送「渠道数据」查看已有渠道）")


async def show_code(deps: Deps, userid: str, way: ContactWay, event_key: str) -> None:
    await send_code_image(deps, userid, way, event_key)


async def resolve_targets(words: Sequence[str]) -> Targets:
    """Stores (code or name) and guides (userid or name); a last word that is neither is the campaign."""
    store: Store | None = None
    guides: list[Guide] = []
    campaign = ""
    for index, word in enumerate(words):
        found_store = await Store.get_or_none(code=word) or await Store.filter(name=word).first()
        if found_store is not None:
            if store is not None and store.id != found_store.id:
                raise CommandError("一个渠道码只能属于一家门店")
            store = found_store
            continue
        guide = await Guide.get_or_none(userid=word, active=True) or await Guide.filter(name=word, active=True).first()
        if guide is not None:
            guides.append(guide)
            continue
        if index == len(words) - 1 and (store is not None or guides):
            campaign = word[:64]
            continue
        raise CommandError(f"「{word}」不是门店，也不是在职成员（门店可用编码或名称，成员可用名字或 userid）")
    if store is None and not guides:
        raise CommandError("请指定门店或导购")
    if len(guides) > 100:
        raise CommandError("一个渠道码最多 100 位成员")
    return Targets(store, tuple(guides), campaign)


async def _ensure(deps: Deps, desired: Desired) -> ContactWay | None:
    try:
        async with one_writer(deps, wait_s=10):
            return await ensure_code(deps, desired)
    except ChannelSyncBusy:
        raise CommandError("渠道码正在同步中，请稍后再试") from None


async def create_code(deps: Deps, creator: str, name: str, targets: Targets) -> ContactWay:
    if len(name) > 64:
        raise CommandError("名称最多 64 个字")
    if await ChannelCode.exists(name=name):
        raise CommandError(f"已有名为「{name}」的渠道码，发送「渠道码 {name}」查看")
    store_id = targets.store.id if targets.store else (targets.guides[0].store_id if targets.guides else None)
    if targets.guides:
        users: tuple[str, ...] = tuple(dict.fromkeys(g.userid for g in targets.guides))
        parties: tuple[int, ...] = ()
    else:
        assert targets.store is not None
        users, parties = await store_members(targets.store.id)
    if not users and not parties:
        raise CommandError("这家门店还没有在职成员，无法生成渠道码")
    guide = users[0] if len(users) == 1 and targets.guides else None
    welcome = "welcome_campaign" if targets.campaign else ("welcome_store" if store_id else "welcome_default")
    desired = Desired(await new_state("c", f"{name}:{creator}"), name, CHAT, store_id, guide, users, parties,
                      targets.campaign, welcome, creator, tuple(users) if targets.guides else ())
    way = await _ensure(deps, desired)
    if way is None:
        raise CommandError("企业微信拒绝了这个渠道码，请检查成员是否已开通客户联系")
    await way.fetch_related("channel")
    return way


async def my_code(deps: Deps, userid: str) -> ContactWay:
    """The caller's personal code; made now if the sync has not made it yet."""
    way = await ContactWay.get_or_none(owner_userid=userid, deleted_at__isnull=True, config_id__not_isnull=True)
    if way is None:
        guide = await Guide.get(userid=userid)
        desired = Desired(personal_state(userid), f"{guide.name or userid}的专属码", GUIDE, guide.store_id,
                          userid, (userid,), welcome="welcome_store" if guide.store_id else "welcome_default")
        way = await _ensure(deps, desired)
        if way is None:
            raise CommandError("暂时无法生成你的专属码（企业微信拒绝），请联系运营")
    await way.fetch_related("channel")
    return way


async def channel_report(deps: Deps, days: int, store: str | None) -> str:
    now = deps.clock.now()
    rows = await channel_figures(now - timedelta(days=days), now, store=store)
    return say(deps, "cmd_channel_report", detail=f"近{days}天" + (f"，{store}" if store else ""),
               lines="\n".join(format_figures(rows[:15])))
