"""The leads chapter of ``make demo``: a dormant customer browses late at night, the card waits for
morning, the guide taps 已联系, an order two days later counts as a conversion."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from leads.models import Lead
from leads.report import format_report, lead_figures

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]

GUIDE, CUSTOMER = "guide_hz01_a", "wmDemoSleep1"
PRODUCT = {"product_id": "SKU-SLIPPER-02", "product_name": "轻羽拖鞋", "category": "拖鞋", "price": "199"}


async def _night(n: Narrator) -> None:
    local = n.pass_until(22, 5)
    n.say(f"{local:%H:%M} — 吴先生, who has bought nothing for over 200 days, opens the mini-program (POST /signals)")
    now = n.now()
    signals = [
        {"event_id": f"demo-sig-{i}", "type": kind, "occurred_at": (now - timedelta(minutes=m)).isoformat(),
         "external_userid": CUSTOMER} | PRODUCT
        for i, (kind, m) in enumerate((("browse", 30), ("browse", 20), ("browse", 10), ("add_to_cart", 5)))
    ]
    bad = {"event_id": "demo-bad", "type": "browse", "occurred_at": "yesterday", "external_userid": CUSTOMER}
    status, answer = await n.shop_posts("/signals", {"signals": [*signals, bad]})
    n.show(f"HTTP {status}: {answer['accepted']} accepted, {answer['rejected']} rejected "
           f"({answer['results'][-1]['reason']}) — the bad one did not sink the batch")
    lead = await Lead.get(customer__external_userid=CUSTOMER, pattern="dormant_wakeup")
    n.show(f"lead: {lead.pattern} (priority {lead.priority}, score {lead.score:.1f}) for {lead.guide_userid}: "
           f"{lead.status.value} — quiet hours (21:30–09:00), no card at night")


async def chapter(n: Narrator) -> None:
    """The demo chapter (bot/feature.py): leads from a shop's signals, found, sent, converted."""
    await _night(n)
    local = n.pass_until(9, 1)
    n.say(f"{local:%H:%M} next morning — the flush tick releases held cards, best first")
    await n.run_tick("leads_flush")
    await n.wait_for(lambda: any(m.msgtype == "template_card" for m in n.messages_to(GUIDE)))
    card = next(m for m in n.messages_to(GUIDE) if m.msgtype == "template_card")
    c = card.content
    n.show(f"template card to {GUIDE} (陈静):")
    n.show(f"  {c['main_title']['title']}")
    n.show(f"  {c['sub_title_text']}")
    for item in c["horizontal_content_list"]:
        n.show(f"  {item['keyname']}：{item['value']}")
    n.show(f"  {c['quote_area']['title']}：{c['quote_area']['quote_text']}")
    n.show("  [" + "] [".join(b["text"] for b in c["button_list"]) + "]")

    n.say("陈静 taps 已联系 (template_card_event) — and taps it again")
    for _ in range(2):
        await n.guide_taps(GUIDE, c["task_id"], c["button_list"][0]["key"])
    button = card.updates[0]["button"]["replace_name"]
    n.show(f"card updated {len(card.updates)} time(s): button now reads 「{button}」")

    n.pass_time(timedelta(days=2))
    n.say("Two days later 吴先生 pays for the slippers (order_paid signal)")
    paid = {"event_id": "demo-sig-paid", "type": "order_paid", "occurred_at": n.now().isoformat(),
            "external_userid": CUSTOMER, "order_id": "DEMO-WAKE-1", "amount": "199"} | PRODUCT
    await n.shop_posts("/signals", {"signals": [paid]})
    lead = await Lead.get(customer__external_userid=CUSTOMER, pattern="dormant_wakeup")
    n.show(f"lead converted: order {lead.converted_order_id}, ¥{lead.converted_amount}")
    n.show("scrm leads report:")
    figures = await lead_figures(n.now() - timedelta(days=30), n.now())
    n.show_text(format_report(figures))
