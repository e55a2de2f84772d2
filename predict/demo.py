"""The predictions' part of ``make demo``: an order history, the nightly run, one customer's prediction and why."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from customers.models import Customer, Guide, Relationship, Signal
from customers.orders import OrderIn, record_orders
from predict.chat import describe
from predict.history import EPOCH, day_of
from predict.models import CustomerPrediction
from predict.report import format_report, store_figures
from predict.service import predict_everyone
from predict.synthetic import synthetic_brand

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]

BASE = 600  # synthetic customers with two years of orders (SYNTHETIC: made up for the demo)


async def _history(now: datetime) -> None:
    history = synthetic_brand(BASE, days=730, start_day=day_of(now.date()) - 731, seed=7, signals=False)
    guides = [(await Guide.get_or_create(userid=userid))[0] for userid in ("guide_sh01_a", "guide_hz01_a")]
    for i, external_userid in enumerate(history.ids):
        customer = await Customer.create(external_userid=external_userid, name=f"老客{i}", first_seen_at=now)
        await Relationship.create(guide=guides[i % 2], customer=customer, created_at=now - timedelta(days=700))
    orders = [
        OrderIn(f"DEMO-H{i}", Decimal(str(round(float(history.amount[i]), 2))),
                datetime.combine(EPOCH + timedelta(days=int(history.day[i])), time(12), UTC),
                history.ids[int(history.customer[i])])
        for i in range(len(history.day))
    ]
    for start in range(0, len(orders), 1000):
        await record_orders(orders[start : start + 1000])


async def chapter(n: Narrator) -> None:
    """The demo chapter (its feature's ``demo`` slot, bot/feature.py)."""
    deps = n.deps
    now = deps.clock.now()
    n.say(f"Purchase predictions: {BASE} customers with two years of orders (synthetic), plus 周小姐")
    await _history(now)
    await record_orders([
        OrderIn(f"DEMO-ZHOU-{k}", Decimal(amount), now - timedelta(days=days), "wmDemoZhou01")
        for k, (days, amount) in enumerate(((170, "459"), (115, "329"), (62, "599"), (9, "399")))
    ])
    zhou = await Customer.get(external_userid="wmDemoZhou01")
    for k in range(3):
        await Signal.create(event_id=f"demo-predict-cart-{k}", type="add_to_cart", customer=zhou,
                            external_userid=zhou.external_userid, occurred_at=now - timedelta(days=k + 1))
    result = await predict_everyone(deps)
    methods = result.backtest.get("methods", {})
    n.show(f"nightly run: {result.customers} customers scored in {result.seconds:.1f}s; back-test on this brand's "
           f"last 90 days (AUC, 95% interval): " + ", ".join(
               f"{name} {m['auc']:.3f} [{m['auc_ci'][0]:.3f}, {m['auc_ci'][1]:.3f}]"
               for name, m in methods.items() if m.get("auc")))
    n.show(f"customers are ranked by {result.method}: {result.backtest.get('why_chosen', '')}")
    if result.backtest.get("brier") is not None:
        n.show(f"calibrated P(buy in 90 days): Brier {result.backtest['brier']:.3f} (the base rate alone: "
               f"{result.backtest['base_rate_brier']:.3f})")
    prediction = await CustomerPrediction.get(customer_id=zhou.id)
    n.say("客户 周小姐 — what 王小美 reads in her profile")
    for line in describe(deps.config.templates, prediction).split("\n"):
        n.show(line)
    n.say("HQ: each store's customer base, expected 90-day sales (scrm predict report; board metric expected_sales_90)")
    for line in format_report(deps.config.templates, await store_figures(), result.method).split("\n"):
        n.show(line)

