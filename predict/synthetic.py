"""A synthetic brand for benchmarks, the demo and tests: SYNTHETIC data, never a claim about real customers.

Each customer buys as a Poisson process (rate ~ Gamma) from a first purchase until an unseen
drop-out (exponential lifetime), as BG/NBD assumes; spend per purchase is Gamma around the
customer's own mean. Shop and chat signals are what a mini-program and chat archive would show:
browsing while the customer is around, a cart (60%) and an intent message (30%) in the days before
a purchase, coupons now and then. Channels differ in base rate. Seeded: the same call, the same brand.
"""

from __future__ import annotations

import numpy as np

from predict.history import Events, History
from predict.source import SIGNAL_KINDS

__all__ = ["synthetic_brand", "KINDS"]

KINDS = (*SIGNAL_KINDS, "chat", "chat_intent")


def synthetic_brand(customers: int, *, days: int = 730, start_day: int = 19_000, seed: int = 0,
                    signals: bool = True) -> History:
    """``customers`` customers over ``days`` days ending at ``start_day + days``."""
    rng = np.random.default_rng(seed)
    n = customers
    channel = rng.integers(1, 4, n)
    rate = rng.gamma(0.7, 1 / 25, n) * np.array([0, 1.3, 1.0, 0.6])[channel]  # purchases a day
    first = rng.integers(0, days - 14, n)
    life = rng.exponential(420, n)
    end = np.minimum(first + life, days)
    repeats = rng.poisson(rate * (end - first))
    who = np.repeat(np.arange(n), repeats)
    when = first[who] + rng.random(len(who)) * (end - first)[who]
    customer = np.r_[np.arange(n), who]
    day = np.r_[first, when.astype(np.int64)]
    mean_spend = rng.gamma(4.0, 60.0, n)
    amount = np.round(rng.gamma(8.0, mean_spend[customer] / 8.0), 2)
    events = Events.empty()
    if signals:
        raw = _events(rng, n, customer, day, first, end, rate, days)
        events = Events(raw.customer, raw.day + start_day, raw.kind, KINDS)
    ids = [f"wmSYN{i:07d}" for i in range(n)]
    return History.build(ids, customer, day + start_day, amount, channel=channel, events=events)


def _events(rng: np.random.Generator, n: int, customer: np.ndarray, day: np.ndarray, first: np.ndarray,
            end: np.ndarray, rate: np.ndarray, days: int) -> Events:
    kind = {name: KINDS.index(name) for name in KINDS}
    parts: list[tuple[np.ndarray, np.ndarray, int]] = []
    # Before a purchase: a cart (60%, 0-6 days before) and an intent message (30%, 0-3 days before).
    for name, share, lead in (("add_to_cart", 0.6, 7), ("chat_intent", 0.3, 4)):
        pick = rng.random(len(customer)) < share
        parts.append((customer[pick], day[pick] - rng.integers(0, lead, pick.sum()), kind[name]))
    # While around: browsing at a rate that follows the purchase rate, noise carts, coupons, chat.
    for name, per_purchase, floor in (("browse", 4.0, 0.01), ("add_to_cart", 0.3, 0.002),
                                      ("coupon_claimed", 0.2, 0.003), ("chat", 1.0, 0.005)):
        counts = rng.poisson((rate * per_purchase + floor) * (end - first))
        who = np.repeat(np.arange(n), counts)
        when = first[who] + rng.random(len(who)) * (end - first)[who]
        parts.append((who, when.astype(np.int64), kind[name]))
    c = np.concatenate([p[0] for p in parts])
    d = np.concatenate([p[1] for p in parts])
    k = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    keep = (d >= 0) & (d <= days)
    return Events(c[keep].astype(np.int64), d[keep].astype(np.int64), k[keep].astype(np.int64), KINDS)
