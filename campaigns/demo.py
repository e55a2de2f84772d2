"""The campaigns chapter of ``make demo``: one campaign end to end — previewed, sent as one WeCom task per guide,
one guide confirms in WeCom and the other does not, results synced, a reminder for the one who has not sent,
and the report per guide with conversions against the holdout."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from campaigns import service
from campaigns.audience import Audience
from campaigns.models import CampaignTarget
from campaigns.report import campaign_report, format_report
from customers.models import Order

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]

GUIDES = ("guide_sh01_a", "guide_sh01_b")
SURNAMES = "周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张"


async def chapter(n: Narrator) -> None:
    """The demo chapter (bot/features.py)."""
    n.say("Campaigns: a mass send (客户群发) followed to each customer — who sent, who received, what it sold")
    customers = [f"wmDemoCamp{i:02d}" for i in range(12)]
    for i, external_userid in enumerate(customers):
        await n.customer_scans(GUIDES[i % 2], external_userid, f"{SURNAMES[i]}女士", state="store_sh01")
    deps = n.deps
    audience = Audience(external_userids=tuple(customers))
    shown = await service.preview(deps, "春季会员日", audience, 25)
    n.show(f"preview (scrm campaign preview): {shown.customers} customers — "
           + ", ".join(f"{u} {c}" for u, c in shown.by_guide.items())
           + f"; {shown.holdout} held out for the lift (25%, a stable hash), {shown.capped} at the monthly cap")
    campaign, sent = await service.send(deps, service.CampaignSpec(
        "春季会员日", audience, "{guide}邀您参加春季会员日：到店满300减50", holdout_pct=25, source="demo"))
    n.show(f"scrm campaign send: {sent.tasks} add_msg_template tasks (one per guide), {sent.customers} customers; "
           "each msgid and fail_list kept")
    received = n.guide_confirms_mass(GUIDES[0])
    n.show(f"王小美 taps send in WeCom: {received} customers receive it; 李晓 has not tapped yet")
    synced = await service.sync(deps)
    n.show(f"scrm campaign sync: {synced.tasks} tasks read, {synced.sent} sent, {synced.results} customer results")
    for reminded in await service.remind(deps, campaign):
        n.show(f"scrm campaign remind → {reminded.userid}: "
               + ("remind_groupmsg_send + an app message" if reminded.reminded else reminded.reason))
    n.say("Orders within the campaign's window: who bought, reached or held out")
    reached = await CampaignTarget.filter(campaign_id=campaign.id, status="sent").values_list(
        "customer_id", flat=True)
    held = await CampaignTarget.filter(campaign_id=campaign.id, arm="holdout").values_list("customer_id", flat=True)
    assert campaign.sent_at is not None
    buyers = [*list(reached)[: max(1, len(reached) // 2)], *list(held)[: len(held) // 4]]
    for number, customer_id in enumerate(buyers):
        await Order.create(order_id=f"DEMO-CAMP-{number}", customer_id=customer_id, amount=Decimal("350"),
                           paid_at=campaign.sent_at + timedelta(days=3), source="demo")
    for line in format_report(await campaign_report(campaign)):
        n.show(line)
    n.show("(unsent = 李晓's customers: the task waits for her; scrm campaign cancel would withdraw it)")
