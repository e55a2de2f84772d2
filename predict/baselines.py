"""The hand rules (baselines) the model is measured against, computed from the same snapshot.

- recency: the more recent the last purchase, the higher.
- RFM: the sum of the recency, frequency (purchase days) and monetary quintiles (ties share one).
- lifecycle: the product's three stages (``customers/lifecycle.py``): dormant past
  ``dormant_days`` = 0, churn risk past ``churn_factor`` × the own purchase cycle = 1, else 2; its
  count forecast is the past run rate over the horizon, nothing for the dormant.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from customers.lifecycle import DEFAULT as LIFECYCLE
from predict.features import Snapshot

__all__ = ["recency_score", "rfm_score", "lifecycle_stage", "lifecycle_count", "quintile"]

FloatArray = npt.NDArray[np.float64]


def quintile(values: FloatArray) -> FloatArray:
    """1..5 by percentile rank; ties share a quintile."""
    if not len(values):
        return np.zeros(0)
    result: FloatArray = np.clip(np.ceil(rankdata(values) / len(values) * 5), 1, 5)
    return result


def recency_score(snap: Snapshot) -> FloatArray:
    return -snap.column("recency")


def rfm_score(snap: Snapshot) -> FloatArray:
    return quintile(-snap.column("recency")) + quintile(snap.column("n")) + quintile(snap.column("value"))


def lifecycle_stage(
    snap: Snapshot, dormant_days: float = LIFECYCLE.dormant_days, churn_factor: float = LIFECYCLE.churn_factor
) -> FloatArray:
    recency, gap = snap.column("recency"), snap.column("gap_mean")
    stage = np.full(len(recency), 2.0)
    stage[(snap.x > 0) & (recency > churn_factor * np.nan_to_num(gap, nan=np.inf))] = 1
    stage[recency > dormant_days] = 0
    return stage


def lifecycle_count(snap: Snapshot, horizon_days: int, stage: FloatArray) -> FloatArray:
    rate = snap.x / np.maximum(snap.T, 1.0)
    result: FloatArray = np.where(stage > 0, rate * horizon_days / 7.0, 0.0)
    return result
