"""The channel-code chapter of ``make demo``: the organisation from WeCom, codes made, one scanned."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.appkeys import DEPS
from bot.demokit import DemoRun, say, show, wait_for
from channels.models import ContactWay
from channels.service import personal_state, sync_channels
from customers.models import Guide, Relationship
from orgsync.service import sync_org
from simulator.addressbook import add_department
from simulator.callbacks import CallbackSender
from simulator.qrcodes import scan_contact_way
from simulator.state import SimulatorState

__all__ = ["channels_story"]

Say = Callable[[str], None]
WaitFor = Callable[..., Awaitable[float]]


async def channels_story(
    app: web.Application, state: SimulatorState, sender: CallbackSender, say: Say, show: Say, wait_for: WaitFor
) -> None:
    deps = app[DEPS]
    say("The organisation comes from WeCom's address book (scrm sync org)")
    # WeCom's departments: 门店 → 南京西路店 (11), 湖滨店 (12); org.yaml ties them to sh01 / hz01.
    add_department(state, 2, "门店")
    add_department(state, 11, "南京西路店", parentid=2, leaders=["manager_sh01"])
    add_department(state, 12, "湖滨店", parentid=2, leaders=["manager_hz01"])
    for userid, department in (("guide_sh01_a", 11), ("guide_sh01_b", 11), ("manager_sh01", 11),
                               ("guide_hz01_a", 12), ("manager_hz01", 12)):
        if userid in state.members:
            state.members[userid].department = [department]
    state.add_member("guide_hz01_b", "赵敏", department=[12])  # joined last week; org.yaml never heard of her
    result = await sync_org(deps)
    show(f"department/list, user/list_id, user/get ×{result.members}: {result.departments} departments, "
         f"{result.stores} stores, {result.members} members ({result.created} new)")
    newcomer = await Guide.get(userid="guide_hz01_b").prefetch_related("store")
    show(f"赵敏 (not in org.yaml) is a guide of {newcomer.store.name if newcomer.store else '-'} "
         "because WeCom says she works in that department")

    say("Channel codes are made in WeCom (scrm channels sync): add_contact_way with a state each")
    made = await sync_channels(deps)
    show(f"{made.created} codes created ({state.count_calls('externalcontact/add_contact_way')} add_contact_way "
         f"calls), {made.unchanged} unchanged")
    for way in (await ContactWay.filter(deleted_at__isnull=True).prefetch_related("channel").order_by("id"))[:5]:
        show(f"  {way.kind:<6} state={way.channel.state:<16} {way.channel.name} — answered by {', '.join(way.users)}")
    again = await sync_channels(deps)
    show(f"synced again: {again.created} created, {again.unchanged} unchanged — nothing to do")

    say("湖滨店's manager types 渠道码 湖滨店门店码 in the app: the code comes back as a picture")
    before = len(state.messages_to("manager_hz01"))
    await sender.send(state.guide_sends_text("manager_hz01", "渠道码 湖滨店门店码"))
    await wait_for(lambda: any(m.msgtype == "image" for m in state.messages_to("manager_hz01")[before:]))
    image = next(m for m in state.messages_to("manager_hz01")[before:] if m.msgtype == "image")
    media = state.media[image.content["media_id"]]
    show(f"qr_code image downloaded, media/upload → {media.media_id[:12]}… ({len(media.content)} bytes PNG), "
         "sent as an image message")

    say("A shopper scans 赵敏's personal code")
    way = await ContactWay.get(owner_userid="guide_hz01_b").prefetch_related("channel")
    await sender.send(scan_contact_way(state, str(way.config_id), "wmDemoScan01", name="冯女士"))
    await wait_for(lambda: Relationship.filter(customer__external_userid="wmDemoScan01").exists())
    relation = await Relationship.get(customer__external_userid="wmDemoScan01").prefetch_related(
        "guide", "channel", "channel__store"
    )
    store = relation.channel.store.name if relation.channel and relation.channel.store else "-"
    show(f"State={personal_state('guide_hz01_b')} → customer 冯女士 ↔ guide {relation.guide.name}, store {store}")
    await wait_for(lambda: any(w.external_userid == "wmDemoScan01" for w in state.welcome_messages))
    welcome = next(w for w in state.welcome_messages if w.external_userid == "wmDemoScan01")
    show(f"welcome: 「{welcome.text}」")


async def chapter(run: DemoRun) -> None:
    """The demo chapter (bot/features.py)."""
    await channels_story(run.app, run.state, run.sender, say, show, wait_for)
