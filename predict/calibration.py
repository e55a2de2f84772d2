"""Probabilities that mean what they say: a score mapped to P(buy) by isotonic regression, and how to check it.

The mapping is fitted where the outcome is already known (the window before the cut: scores at its
start, purchases over its days) and applied at the cut. Isotonic regression keeps the order of the
scores (so a ranking is unchanged) and assumes no shape; between fitted points it interpolates.

A probability over another horizon than the fitted one follows the customer's own BG/NBD time
profile (``backtest._calibrated``): ``1 − P(H) = (1 − P(h)) ** k`` with
``k = log(1 − P_bg(H)) / log(1 − P_bg(h))``, so a customer BG/NBD expects to fade gains less from a
longer window than a steady one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import isotonic_regression
from scipy.stats import rankdata

__all__ = ["Calibration", "fit_isotonic", "brier", "reliability", "percentile"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Calibration:
    knots: FloatArray  # distinct scores, ascending
    p: FloatArray  # the fitted probability at each knot (non-decreasing)

    def __call__(self, score: FloatArray) -> FloatArray:
        if not len(self.knots):
            return np.full(len(score), np.nan)
        result: FloatArray = np.interp(np.nan_to_num(np.asarray(score, np.float64), nan=-np.inf), self.knots, self.p)
        return result


def fit_isotonic(score: FloatArray, y: FloatArray) -> Calibration:
    """P(y = 1 | score), non-decreasing in the score (NaN scores count as the lowest)."""
    s = np.nan_to_num(np.asarray(score, np.float64), nan=-np.inf)
    s = np.where(np.isfinite(s), s, np.nanmin(np.where(np.isfinite(s), s, np.inf), initial=0.0) - 1.0)
    knots, inverse = np.unique(s, return_inverse=True)
    weights = np.bincount(inverse, minlength=len(knots)).astype(np.float64)
    rates = np.bincount(inverse, weights=np.asarray(y, np.float64), minlength=len(knots)) / np.maximum(weights, 1)
    fitted = isotonic_regression(rates, weights=weights, increasing=True).x if len(knots) else rates
    return Calibration(knots, np.clip(np.asarray(fitted, np.float64), 0.0, 1.0))


def percentile(score: FloatArray) -> FloatArray:
    """Each score's place among the others in (0, 1], ties sharing their mean place (NaN: the lowest)."""
    s = np.nan_to_num(np.asarray(score, np.float64), nan=-np.inf)
    result: FloatArray = rankdata(s) / max(len(s), 1)
    return result


def brier(p: FloatArray, y: FloatArray) -> float:
    return float(np.mean((p - y) ** 2)) if len(p) else math.nan


def reliability(p: FloatArray, y: FloatArray, groups: int = 10) -> list[dict[str, float]]:
    """Customers in tenths by predicted P (lowest first): the mean predicted and the observed rate of each."""
    order = np.argsort(p, kind="stable")
    return [
        {"predicted": round(float(p[part].mean()), 4), "observed": round(float(y[part].mean()), 4),
         "customers": len(part)}
        for part in np.array_split(order, groups) if len(part)
    ]
