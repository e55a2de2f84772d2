"""The channel-code chapter of ``make demo``: codes made in WeCom, one sent as a picture, one scanned."""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels.models import ContactWay
from channels.service import personal_state, sync_channels
from customers.models import Relationship

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]


async def chapter(n: Narrator) -> None:
    """The demo chapter (its feature's ``demo`` slot, bot/feature.py)."""
    deps = n.deps
    n.say("Channel codes are made in WeCom (scrm channels sync): add_contact_way with a state each")
    made = await sync_channels(deps)
    n.show(f"{made.created} codes created ({n.count_calls('externalcontact/add_contact_way')} add_contact_way "
           f"calls), {made.unchanged} unchanged")
    for way in (await ContactWay.filter(deleted_at__isnull=True).prefetch_related("channel").order_by("id"))[:5]:
        n.show(f"  {way.kind:<6} state={way.channel.state:<16} {way.channel.name} — answered by {', '.join(way.users)}")
    again = await sync_channels(deps)
    n.show(f"synced again: {again.created} created, {again.unchanged} unchanged — nothing to do")

    n.say("湖滨店's manager types 渠道码 湖滨店门店码 in the app: the code comes back as a picture")
    answers = await n.guide_writes("manager_hz01", "渠道码 湖滨店门店码")
    await n.settle()
    image = next(m for m in [*answers, *n.messages_to("manager_hz01")] if m.msgtype == "image")
    media_id = str(image.content["media_id"])
    n.show(f"qr_code image downloaded, media/upload → {media_id[:12]}… ({len(n.media(media_id))} bytes PNG), "
           "sent as an image message")

    n.say("A shopper scans 赵敏's personal code")
    way = await ContactWay.get(owner_userid="guide_hz01_b").prefetch_related("channel")
    await n.customer_scans_code(str(way.config_id), "wmDemoScan01", "冯女士")
    relation = await Relationship.get(customer__external_userid="wmDemoScan01").prefetch_related(
        "guide", "channel", "channel__store"
    )
    store = relation.channel.store.name if relation.channel and relation.channel.store else "-"
    n.show(f"State={personal_state('guide_hz01_b')} → customer 冯女士 ↔ guide {relation.guide.name}, store {store}")
    n.show(f"welcome: 「{n.welcomes_to('wmDemoScan01')[0]}」")
