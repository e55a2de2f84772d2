"""The leads chapter of ``make demo``: a dormant customer browses late at night, the card waits for
morning, the guide taps 已联系, an order two days later counts as a conversion."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import orjson

from bot.appkeys import DEPS
from bot.demokit import DEMO_SHOP_SECRET, DemoRun, say, show, wait_for
from bot.deps import Deps
from bot.intake import signed_headers
from leads.models import Lead
from leads.report import format_report, lead_figures
from simulator.callbacks import CallbackSender
from simulator.clock import SimFollowingClock
from simulator.state import SimulatorState

__all__ = ["leads_story"]


async def _post_signals(deps: Deps, http: aiohttp.ClientSession, base_url: str, secret: bytes,
                        signals: list[dict[str, Any]]) -> dict[str, Any]:
    body = orjson.dumps({"signals": signals})
    headers = signed_headers("shop", secret, body, deps.clock.timestamp())
    async with http.post(f"{base_url}/signals", data=body, headers=headers) as resp:
        answer: dict[str, Any] = await resp.json()
        answer["http_status"] = resp.status
        return answer


async def leads_story(
    deps: Deps,
    clock: SimFollowingClock,
    state: SimulatorState,
    sender: CallbackSender,
    http: aiohttp.ClientSession,
    base_url: str,
    shop_secret: bytes,
    *,
    say: Callable[[str], None],
    show: Callable[[str], None],
    wait_for: Callable[..., Awaitable[float]],
    settle: Callable[[], Awaitable[None]],
) -> None:
    guide, customer = "guide_hz01_a", "wmDemoSleep1"
    tz = ZoneInfo(deps.settings.scrm_timezone)
    clock.advance_to_local(22, 5, deps.settings.scrm_timezone)
    now = deps.clock.now()
    say(f"{now.astimezone(tz):%H:%M} — 吴先生, asleep for 230 days, opens the mini-program (POST /signals)")
    product = {"product_id": "SKU-SLIPPER-02", "product_name": "轻羽拖鞋", "category": "拖鞋", "price": "199"}
    signals = [
        {"event_id": f"demo-sig-{i}", "type": kind, "occurred_at": (now - timedelta(minutes=m)).isoformat(),
         "external_userid": customer} | product
        for i, (kind, m) in enumerate((("browse", 30), ("browse", 20), ("browse", 10), ("add_to_cart", 5)))
    ]
    bad = {"event_id": "demo-bad", "type": "browse", "occurred_at": "yesterday", "external_userid": customer}
    answer = await _post_signals(deps, http, base_url, shop_secret, [*signals, bad])
    show(f"HTTP {answer['http_status']}: {answer['accepted']} accepted, {answer['rejected']} rejected "
         f"({answer['results'][-1]['reason']}) — the bad one did not sink the batch")
    await settle()
    lead = await Lead.get(customer__external_userid=customer, pattern="dormant_wakeup")
    show(f"lead: {lead.pattern} (priority {lead.priority}, score {lead.score:.1f}) for {lead.guide_userid}: "
         f"{lead.status.value} — quiet hours (21:30–09:00), no card at night")

    clock.advance_to_local(9, 1, deps.settings.scrm_timezone)
    say(f"{deps.clock.now().astimezone(tz):%H:%M} next morning — the flush tick releases held cards, best first")
    from bot.scheduler import Tick, fire  # the demo drives the tick itself

    await fire(deps, Tick("leads_flush", every_s=60))
    await wait_for(lambda: any(m.msgtype == "template_card" for m in state.messages_to(guide)))
    card = next(m for m in state.messages_to(guide) if m.msgtype == "template_card")
    c = card.content
    show(f"template card to {guide} (陈静):")
    show(f"  {c['main_title']['title']}")
    show(f"  {c['sub_title_text']}")
    for item in c["horizontal_content_list"]:
        show(f"  {item['keyname']}：{item['value']}")
    show(f"  {c['quote_area']['title']}：{c['quote_area']['quote_text']}")
    show("  [" + "] [".join(b["text"] for b in c["button_list"]) + "]")

    say("陈静 taps 已联系 (template_card_event) — and taps it again")
    key = c["button_list"][0]["key"]
    for _ in range(2):
        await sender.send(state.guide_clicks_card(guide, c["task_id"], key))
    await settle()
    show(f"card updated {len(card.updates)} time(s): button now reads 「{card.updates[0]['button']['replace_name']}」")

    clock.advance(timedelta(days=2))
    say("Two days later 吴先生 pays for the slippers (order_paid signal)")
    paid = {"event_id": "demo-sig-paid", "type": "order_paid", "occurred_at": deps.clock.now().isoformat(),
            "external_userid": customer, "order_id": "DEMO-WAKE-1", "amount": "199"} | product
    await _post_signals(deps, http, base_url, shop_secret, [paid])
    await settle()
    await lead.refresh_from_db()
    show(f"lead converted: order {lead.converted_order_id}, ¥{lead.converted_amount}")
    show("scrm leads report:")
    figures = await lead_figures(deps.clock.now() - timedelta(days=30), deps.clock.now())
    for line in format_report(figures).splitlines():
        show(f"  {line}")


async def chapter(run: DemoRun) -> None:
    """The demo chapter (bot/features.py): leads from a shop's signals, found, sent, converted."""
    deps = run.app[DEPS]
    clock = deps.clock
    assert isinstance(clock, SimFollowingClock)  # run_demo gives the app the simulator's clock
    await leads_story(deps, clock, run.state, run.sender, run.http, run.url.removesuffix("/wecom/callback"),
                      DEMO_SHOP_SECRET, say=say, show=show, wait_for=wait_for, settle=run.settle)
