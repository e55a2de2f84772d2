"""The sidebar's prediction section: the same words as the 客户 profile, where a prediction exists."""

from __future__ import annotations

from typing import Any

from predict.chat import describe
from predict.models import CustomerPrediction
from sidebar.kinds import CardContext, card_section

__all__ = ["prediction_section"]


@card_section("prediction", "购买预测")
async def prediction_section(ctx: CardContext) -> dict[str, Any] | None:
    """Nothing before the first nightly run, or for a customer who never bought."""
    found = await CustomerPrediction.get_or_none(customer_id=ctx.customer.id)
    if found is None:
        return None
    lines = describe(ctx.deps.config.templates, found).split("\n")
    return {"items": [{"text": line, "sub": ""} for line in lines if line]}
