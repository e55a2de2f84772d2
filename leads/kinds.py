"""Lead patterns, the leads feature's kinds: each is one registered function that looks at a
customer's recent activity and says whether (and why) the guide should act now. Add one with
``@pattern`` and an entry in config/leads.yaml; nothing else changes.

A pattern returns a Finding whose ``occurrence`` names the fact it found (the cart line, the coupon,
the product and day): the lead key is (customer, pattern, occurrence), so the same fact never makes
a second lead however often it is re-evaluated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.registry import Registry
from customers.lifecycle import DEFAULT as LIFECYCLE
from leads.scoring import Scores, SignalFact

__all__ = ["Activity", "Finding", "PatternSpec", "PATTERNS", "pattern", "pattern_spec", "unpaid_cart", "cart_amount"]


@dataclass(frozen=True, slots=True)
class Activity:
    """Everything a pattern may read about one customer, at ``now``."""

    customer_id: int
    now: datetime
    timezone: ZoneInfo
    signals: Sequence[SignalFact]  # the look-back window, oldest first
    scores: Scores
    first_seen_at: datetime
    last_purchase_at: datetime | None

    def since(self, hours: float) -> list[SignalFact]:
        start = self.now - timedelta(hours=hours)
        return [s for s in self.signals if start <= s.occurred_at <= self.now]

    def local_day(self, moment: datetime | None = None) -> str:
        return (moment or self.now).astimezone(self.timezone).date().isoformat()


@dataclass(frozen=True, slots=True)
class Finding:
    occurrence: str
    facts: Mapping[str, Any] = field(default_factory=dict)  # extra template values (product, days …)


Params = Mapping[str, float]
Detector = Callable[[Activity, Params], Finding | None]


@dataclass(frozen=True, slots=True)
class PatternSpec:
    name: str
    detect: Detector
    params: Mapping[str, float]  # defaults; config/leads.yaml may override each
    # Patterns that fire on time passing (a cart left for 2 h) name the signal types and window the
    # periodic sweep uses to find candidates; the others are evaluated when a signal arrives.
    sweep_types: tuple[str, ...] = ()
    sweep_hours: float = 0.0


PATTERNS: Registry[PatternSpec] = Registry("lead pattern")


def pattern(
    name: str, *, sweep_types: tuple[str, ...] = (), sweep_hours: float = 0.0, **params: float
) -> Callable[[Detector], Detector]:
    def register(detect: Detector) -> Detector:
        if name in PATTERNS:  # its spec is new each time: refused by name
            raise PATTERNS.taken(name)
        PATTERNS.add(name, PatternSpec(name, detect, params, sweep_types, sweep_hours))
        return detect

    return register


def pattern_spec(name: str) -> PatternSpec:
    """The registered pattern ``name``; UnknownName (a LookupError) naming the known ones for any other."""
    return PATTERNS[name]


def _is_dormant(activity: Activity, dormant_days: float) -> bool:
    since = activity.last_purchase_at or activity.first_seen_at
    return activity.now - since >= timedelta(days=dormant_days)


def unpaid_cart(activity: Activity, window_hours: float) -> list[SignalFact]:
    """Cart lines added in the window and neither removed nor followed by a paid order."""
    lines: dict[str, SignalFact] = {}
    for signal in activity.since(window_hours):
        if signal.type == "add_to_cart":
            lines[signal.product_id or signal.category] = signal
        elif signal.type == "remove_from_cart":
            lines.pop(signal.product_id or signal.category, None)
        elif signal.type == "order_paid":
            lines.clear()
    return list(lines.values())


def cart_amount(lines: Sequence[SignalFact]) -> Decimal:
    return sum((line.price * line.quantity for line in lines), Decimal("0"))


# dormant_days: the lifecycle's 沉睡 threshold, set by leads/config.py from customers/lifecycle.py.
@pattern("dormant_wakeup", dormant_days=LIFECYCLE.dormant_days, fresh_hours=24)
def dormant_wakeup(activity: Activity, params: Params) -> Finding | None:
    """A customer asleep for 180+ days is browsing again: the best moment to reach out."""
    if not _is_dormant(activity, params["dormant_days"]):
        return None
    fresh = [s for s in activity.since(params["fresh_hours"]) if s.type in ("browse", "link_open", "add_to_cart")]
    if not fresh:
        return None
    since = activity.last_purchase_at or activity.first_seen_at
    days = (activity.now - since).days
    # One wake-up lead per sleep: a new purchase starts a new one.
    return Finding(f"asleep-since-{since.date().isoformat()}", {"dormant_days": days})


@pattern("cart_abandoned", sweep_types=("add_to_cart",), sweep_hours=48, after_hours=2, within_hours=48)
def cart_abandoned(activity: Activity, params: Params) -> Finding | None:
    """Something sits in the cart, unpaid, for 2 hours."""
    ripe = activity.now - timedelta(hours=params["after_hours"])
    lines = [line for line in unpaid_cart(activity, params["within_hours"]) if line.occurred_at <= ripe]
    if not lines:
        return None
    latest = max(lines, key=lambda s: s.occurred_at)
    return Finding(f"cart-{latest.event_id}", {"product": latest.product_name or latest.product_id})


@pattern("repeat_browse", count=3, within_hours=24)
def repeat_browse(activity: Activity, params: Params) -> Finding | None:
    """The same product browsed 3+ times in 24 hours."""
    browses = [s for s in activity.since(params["within_hours"]) if s.type == "browse" and s.product_id]
    if not browses:
        return None
    counts = Counter(s.product_id for s in browses)
    last_seen = {s.product_id: i for i, s in enumerate(browses)}
    product_id = max(counts, key=lambda p: (counts[p], last_seen[p]))  # a tie goes to the latest interest
    count = counts[product_id]
    if count < params["count"]:
        return None
    name = next(s.product_name for s in reversed(browses) if s.product_id == product_id) or product_id
    return Finding(f"browse-{product_id}-{activity.local_day()}", {"product": name, "browse_count": count})


@pattern("coupon_expiring", sweep_types=("coupon_claimed",), sweep_hours=24 * 30, days_before=2)
def coupon_expiring(activity: Activity, params: Params) -> Finding | None:
    """A claimed coupon is not redeemed and expires within 2 days."""
    redeemed = {s.payload.get("coupon_id") for s in activity.signals if s.type == "coupon_redeemed"}
    horizon = activity.now + timedelta(days=params["days_before"])
    for signal in activity.signals:
        coupon_id = signal.payload.get("coupon_id")
        expires = signal.payload.get("expires_at")
        if signal.type != "coupon_claimed" or not expires or coupon_id in redeemed:
            continue
        expires_at = datetime.fromisoformat(str(expires))
        if activity.now < expires_at <= horizon:
            hours = (expires_at - activity.now).total_seconds() / 3600
            return Finding(f"coupon-{coupon_id}", {"coupon_hours": int(hours)})
    return None


@pattern("high_intent", threshold=8)
def high_intent(activity: Activity, params: Params) -> Finding | None:
    """The decayed intent score crossed the threshold (at most one such lead a day)."""
    if activity.scores.total < params["threshold"]:
        return None
    return Finding(f"intent-{activity.local_day()}", {})
