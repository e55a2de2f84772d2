"""Intent score: each signal's type weight, halved every ``half_life_hours`` since it happened.

score = Σ weight(type) × 0.5 ** (age_hours / half_life_hours), over the look-back window; the same
sum is kept per product and per category, so a card can say what the customer is circling.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["SignalFact", "Scores", "decay", "score_signals"]


@dataclass(frozen=True, slots=True)
class SignalFact:
    """A stored signal as the scoring and the patterns see it."""

    event_id: str
    type: str
    occurred_at: datetime
    product_id: str = ""
    product_name: str = ""
    category: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def price(self) -> Decimal:
        return Decimal(str(self.payload.get("price") or "0"))

    @property
    def quantity(self) -> int:
        return int(self.payload.get("quantity") or 1)


@dataclass(frozen=True, slots=True)
class Scores:
    total: float
    by_product: Mapping[str, float]
    by_category: Mapping[str, float]

    def top_product(self) -> str:
        return max(self.by_product, key=lambda p: self.by_product[p]) if self.by_product else ""


def decay(age_hours: float, half_life_hours: float) -> float:
    """The share of a signal's weight left after ``age_hours`` (1.0 now, 0.5 after one half-life)."""
    return float(0.5 ** (max(age_hours, 0.0) / half_life_hours))


def score_signals(
    signals: Iterable[SignalFact], weights: Mapping[str, float], half_life_hours: float, now: datetime
) -> Scores:
    total = 0.0
    by_product: dict[str, float] = defaultdict(float)
    by_category: dict[str, float] = defaultdict(float)
    for signal in signals:
        weight = weights.get(signal.type, 0.0)
        if not weight:
            continue
        value = weight * decay((now - signal.occurred_at).total_seconds() / 3600, half_life_hours)
        total += value
        if signal.product_id:
            by_product[signal.product_id] += value
        if signal.category:
            by_category[signal.category] += value
    return Scores(round(total, 4), dict(by_product), dict(by_category))
