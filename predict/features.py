"""What is known about each customer at a cut day, and (for training and back-tests) what followed.

Features see only purchases and events on or before the cut; labels only what happened in
``(cut, cut + horizon]``. Only customers who had bought by the cut are rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from predict.history import History

__all__ = ["Snapshot", "snapshot", "PURCHASE_FEATURES", "SIGNAL_WINDOW_DAYS"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Recency, frequency, value, tenure and purchase gaps (the 18 of the CDNOW protocol).
PURCHASE_FEATURES = (
    "recency", "n", "x", "tenure", "value", "avg_value", "quantity", "first_value", "gap_mean", "gap_std",
    "gap_max", "last_gap", "recency_over_gap", "rate_week", "n_last4w", "n_last8w", "n_last13w", "value_last13w",
)
SIGNAL_WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class Snapshot:
    cut: int
    horizon: int
    rows: IntArray  # customer indices (into History.ids) that had bought by the cut
    names: tuple[str, ...]
    features: FloatArray  # len(rows) × len(names)
    # Labels over (cut, cut + horizon]: purchase days, whether any, spend.
    y_count: FloatArray
    y_buy: FloatArray
    y_value: FloatArray

    def column(self, name: str) -> FloatArray:
        result: FloatArray = self.features[:, self.names.index(name)]
        return result

    # BG/NBD's sufficient statistics, in weeks from the first purchase.
    @property
    def x(self) -> FloatArray:
        return self.column("x")

    @property
    def t_x(self) -> FloatArray:
        return (self.column("tenure") - self.column("recency")) / 7.0

    @property
    def T(self) -> FloatArray:
        return self.column("tenure") / 7.0


def _purchase_features(history: History, cut: int) -> tuple[IntArray, dict[str, FloatArray]]:
    past = history.day <= cut
    c, d, v, q = history.customer[past], history.day[past], history.amount[past], history.quantity[past]
    if not len(c):
        return np.zeros(0, np.int64), {name: np.zeros(0) for name in PURCHASE_FEATURES}
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    ends = np.r_[starts[1:], len(c)] - 1
    rows = c[starts]
    n = (ends - starts + 1).astype(np.float64)
    first, last = d[starts].astype(np.float64), d[ends].astype(np.float64)
    gap = np.r_[np.nan, np.diff(d).astype(np.float64)]
    gap[starts] = np.nan
    gap0 = np.nan_to_num(gap)
    x = n - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        gap_sum, gap_sq = np.add.reduceat(gap0, starts), np.add.reduceat(gap0 * gap0, starts)
        gap_mean = np.where(x > 0, gap_sum / x, np.nan)
        gap_std = np.where(x > 1, np.sqrt(np.maximum(gap_sq - x * gap_mean**2, 0) / (x - 1)), np.nan)
        gap_max = np.where(x > 0, np.fmax.reduceat(gap, starts), np.nan)
        recency, tenure = cut - last, cut - first
        value = np.add.reduceat(v, starts)
        features = {
            "recency": recency,
            "n": n,
            "x": x,
            "tenure": tenure,
            "value": value,
            "avg_value": value / n,
            "quantity": np.add.reduceat(q, starts),
            "first_value": v[starts],
            "gap_mean": gap_mean,
            "gap_std": gap_std,
            "gap_max": gap_max,
            "last_gap": gap[ends],
            "recency_over_gap": recency / gap_mean,
            "rate_week": x / np.maximum(tenure / 7.0, 1.0),
        }
    for weeks in (4, 8, 13):
        recent = (d > cut - 7 * weeks).astype(np.float64)
        features[f"n_last{weeks}w"] = np.add.reduceat(recent, starts)
    features["value_last13w"] = np.add.reduceat(v * (d > cut - 91), starts)
    return rows, features


def _signal_features(history: History, cut: int, rows: IntArray) -> dict[str, FloatArray]:
    """Per event kind: how many in the last 30 days, and days since the last one (NaN: never)."""
    events = history.events
    out: dict[str, FloatArray] = {}
    if not events.kinds:
        return out
    seen = events.day <= cut
    recent = seen & (events.day > cut - SIGNAL_WINDOW_DAYS)
    size = history.size
    for code, kind in enumerate(events.kinds):
        mine = events.kind == code
        counts = np.bincount(events.customer[recent & mine], minlength=size).astype(np.float64)
        latest = np.full(size, -np.inf)
        np.maximum.at(latest, events.customer[seen & mine], events.day[seen & mine].astype(np.float64))
        out[f"{kind}_30d"] = counts[rows]
        with np.errstate(invalid="ignore"):
            out[f"{kind}_days_since"] = np.where(np.isfinite(latest[rows]), cut - latest[rows], np.nan)
    return out


def snapshot(history: History, cut: int, horizon: int) -> Snapshot:
    """Features at ``cut`` and labels over the next ``horizon`` days."""
    rows, purchase = _purchase_features(history, cut)
    columns = dict(purchase)
    columns.update(_signal_features(history, cut, rows))
    if history.channel.any():
        columns["channel"] = history.channel[rows].astype(np.float64)
    names = tuple(columns)
    matrix = np.column_stack([columns[name] for name in names]) if len(rows) else np.zeros((0, len(names)))
    future = (history.day > cut) & (history.day <= cut + horizon)
    size = history.size
    count = np.bincount(history.customer[future], minlength=size).astype(np.float64)[rows]
    value = np.bincount(history.customer[future], weights=history.amount[future], minlength=size)[rows]
    buy = (count > 0).astype(np.float64)
    return Snapshot(cut, horizon, rows, names, matrix, count, buy, np.asarray(value, np.float64))
