"""Back-test figures: how well a score ranks next-period buyers, and how close a count forecast is.

Top-10% figures are expected values under random tie-breaking, so a coarse rule (three tied
stages) is neither flattered nor punished by the order of its ties.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

__all__ = ["auc", "top_share", "ranking_figures", "count_figures", "decile_means"]

FloatArray = npt.NDArray[np.float64]


def auc(score: FloatArray, y: FloatArray) -> float:
    positives = float(y.sum())
    negatives = len(y) - positives
    if not positives or not negatives:
        return math.nan
    ranks = rankdata(score)
    return float((ranks[y > 0].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def top_share(score: FloatArray, values: FloatArray, fraction: float = 0.10) -> float:
    """Expected sum of ``values`` over the top ``fraction`` of customers by ``score``."""
    k = fraction * len(score)
    unique, inverse = np.unique(-score, return_inverse=True)  # best score first
    sums = np.bincount(inverse, weights=values, minlength=len(unique))
    counts = np.bincount(inverse, minlength=len(unique)).astype(np.float64)
    before = np.cumsum(counts) - counts
    taken = np.clip(k - before, 0, counts)
    return float(np.sum(sums * taken / np.maximum(counts, 1)))


def ranking_figures(score: FloatArray, y_buy: FloatArray, y_value: FloatArray) -> dict[str, float]:
    n = len(score)
    base = float(y_buy.mean()) if n else math.nan
    precision = top_share(score, y_buy) / (0.10 * n) if n else math.nan
    revenue = float(y_value.sum())
    return {
        "auc": auc(score, y_buy),
        "p10": precision,
        "lift10": precision / base if base else math.nan,
        "rev10": top_share(score, y_value) / revenue if revenue else math.nan,
    }


def count_figures(predicted: FloatArray, actual: FloatArray) -> dict[str, float]:
    total = float(actual.sum())
    both_vary = np.std(predicted) > 0 and np.std(actual) > 0
    return {
        "agg_err": (float(predicted.sum()) - total) / total if total else math.nan,
        "rmse": float(np.sqrt(np.mean((predicted - actual) ** 2))),
        "mae": float(np.mean(np.abs(predicted - actual))),
        "r": float(np.corrcoef(predicted, actual)[0, 1]) if both_vary else math.nan,
    }


def decile_means(score: FloatArray, y_buy: FloatArray) -> list[float]:
    """Share of buyers in each tenth of customers, best-scored tenth first (ties in random order)."""
    rng = np.random.default_rng(0)
    order = np.lexsort((rng.random(len(score)), -score))
    return [float(part.mean()) if len(part) else math.nan for part in np.array_split(y_buy[order], 10)]
