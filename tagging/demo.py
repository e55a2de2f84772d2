"""The tagging chapter of ``make demo``: shop signals and an old order, the nightly re-tag pushing
only the diff to WeCom, and why each customer has each tag."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from tagging.config import TAG_RULES
from tagging.report import explain_customer
from tagging.service import retag_everyone

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]


async def chapter(n: Narrator) -> None:
    """The demo chapter (its feature's ``demo`` slot, bot/feature.py)."""
    now = n.now()
    n.say("She browsed 拖鞋 three times this week (shop signals); an old customer, 吴先生, adds 陈静 of 湖滨店")
    browses = [
        {"event_id": f"demo-browse-{i}", "type": "browse", "external_userid": "wmDemoZhou01", "category": "拖鞋",
         "product_id": "SKU-SLIPPER-01", "occurred_at": (now - timedelta(days=i + 1)).isoformat()}
        for i in range(3)
    ]
    status, answer = await n.shop_posts("/signals", {"signals": browses})
    n.show(f"POST /signals: HTTP {status}, {answer['accepted']} accepted")
    n.add_member("guide_hz01_a", "陈静")
    await n.customer_scans("guide_hz01_a", "wmDemoSleep1", "吴先生", state="store_hz01")
    # His one purchase was long before he added a guide: the store's till, 230 days ago.
    bought = now - timedelta(days=230)
    await n.shop_posts("/intake/orders", {"orders": [
        {"order_id": "DEMO-OLD-1", "external_userid": "wmDemoSleep1", "amount": "299", "paid_at": bought.isoformat(),
         "store_code": "hz01"}]})
    n.show(f"his last order, from the till: {bought.astimezone(n.local_now().tzinfo):%Y-%m-%d} ¥299")

    deps = n.deps
    n.say("The nightly re-tag runs (scrm tags retag): set-based rules → diff → mark_tag to WeCom")
    run = await retag_everyone(deps)
    n.show(f"{run.retag.desired} rule tags desired; {run.sync.mark_tag_calls if run.sync else 0} mark_tag calls now "
           "(one per changed guide–customer relation; the event-driven re-tags after each scan and order "
           f"had pushed theirs already), {run.sync.failed if run.sync else 0} failed")
    for who, userid, external_userid in (("周小姐", "guide_sh01_a", "wmDemoZhou01"),
                                         ("吴先生", "guide_hz01_a", "wmDemoSleep1")):
        n.show(f"{who} — why (scrm tags explain {external_userid}):")
        for line in (await explain_customer(deps.config[TAG_RULES], external_userid))[1:]:
            n.show(f"  {line}")
        n.show(f"  in WeCom (simulator) on {userid}'s profile: {n.wecom_tags(userid, external_userid)}")
    again = await retag_everyone(deps)
    n.show(f"re-tag again with nothing changed: {again.retag.pending_relations} relations to sync, "
           "no mark_tag calls")
