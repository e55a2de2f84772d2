"""The sidebar's prediction: its card section (the same words as the 客户 profile) and the next best action
"a likely reorder" (``sidebar/nextaction.py``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from predict.chat import describe
from predict.models import CustomerPrediction
from predict.value import value_weight
from sidebar.kinds import CardContext, card_section
from sidebar.nextaction import URGENCY, NextAction, action_kind

__all__ = ["prediction_section", "reorder", "REORDER_ITEM", "REORDER_WINDOW", "REORDER_MIN_P30"]

# The library item (config/sidebar.yaml) the reorder action's one-tap send puts in the chat.
REORDER_ITEM = "reorder_nudge"
# A reorder is worth a message when the expected day is this close (or past, the chance still real).
REORDER_WINDOW = timedelta(days=14)
REORDER_MIN_P30 = 0.3


@card_section("prediction", "购买预测")
async def prediction_section(ctx: CardContext) -> dict[str, Any] | None:
    """Nothing before the first nightly run, or for a customer who never bought."""
    found = await CustomerPrediction.get_or_none(customer_id=ctx.customer.id)
    if found is None:
        return None
    lines = describe(ctx.deps.config.templates, found).split("\n")
    return {"items": [{"text": line, "sub": ""} for line in lines if line]}


@action_kind("reorder")
async def reorder(ctx: CardContext) -> list[NextAction]:
    """The customer's expected next purchase is within two weeks (or overdue) and likely within 30 days."""
    found = await CustomerPrediction.get_or_none(customer_id=ctx.customer.id)
    today = ctx.now.astimezone(ctx.zone).date()
    if found is None or found.next_purchase_on is None or found.p_buy_30 < REORDER_MIN_P30:
        return []
    if found.next_purchase_on > today + REORDER_WINDOW:
        return []
    item = ctx.library.items.get(REORDER_ITEM)
    name = (ctx.relation.remark if ctx.relation and ctx.relation.remark else "") or ctx.customer.name
    text = item.render({"name": name, "guide": ctx.viewer.name, "store": ""}) if item and item.kind == "text" else ""
    title = ctx.library.text("next_reorder", date=f"{found.next_purchase_on:%m-%d}", share=f"{found.p_buy_30:.0%}")
    worth = URGENCY["reorder"] * (1 + found.p_buy_30) * await value_weight(ctx.customer.id)
    return [NextAction("reorder", worth, title, text, REORDER_ITEM if text else "")]
