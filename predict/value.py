"""Predicted value where other features rank people: lead priority, SOP task order."""

from __future__ import annotations

from predict.models import CustomerPrediction, PredictionRun

__all__ = ["value_weight", "WEIGHT_RANGE"]

WEIGHT_RANGE = (0.5, 2.0)


async def value_weight(customer_id: int) -> float:
    """How much a customer's intent counts: expected 90-day spend over the base's mean, within 0.5-2.

    1 before the first nightly run and for a customer without a prediction (no purchase yet).
    """
    found = await CustomerPrediction.get_or_none(customer_id=customer_id)
    if found is None:
        return 1.0
    run = await PredictionRun.all().order_by("-id").first()
    if run is None or run.mean_spend_90 <= 0:
        return 1.0
    low, high = WEIGHT_RANGE
    return min(high, max(low, found.spend_90 / run.mean_spend_90))
