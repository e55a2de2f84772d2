"""Why this customer's score is what it is: the features that moved it most, from LightGBM's per-feature
contributions (``pred_contrib``: TreeSHAP values in log-odds that sum, with the bias, to the score).

Each contribution is stated as the change in the predicted chance of buying it makes: the model's
probability with everything, minus the same without that feature's part, in percentage points. The
words are templates (``predict/config.py``'s ``REASON_TEXTS``); a feature without one is skipped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from predict.model import PREDICT_THREADS, Gbm

__all__ = ["top_reasons", "REASONS_PER_CUSTOMER"]

FloatArray = npt.NDArray[np.float64]
REASONS_PER_CUSTOMER = 3
_MIN_CHANGE = 0.005  # half a point: smaller moves are not worth a guide's reading


def _sigmoid(x: FloatArray) -> FloatArray:
    result: FloatArray = 1.0 / (1.0 + np.exp(-x))
    return result


def top_reasons(gbm: Gbm, matrix: FloatArray, names: tuple[str, ...], worded: set[str],
                *, chunk: int = 200_000) -> list[list[dict[str, Any]]]:
    """Per row of ``matrix`` (``gbm``'s columns), up to three ``{"feature", "value", "change"}``, largest move
    first; only features in ``worded`` (those a template states)."""
    n = len(matrix)
    if gbm.classifier is None or not n:
        return [[] for _ in range(n)]
    keep = np.array([name in worded for name in names])
    out: list[list[dict[str, Any]]] = []
    for start in range(0, n, chunk):
        part = matrix[start : start + chunk]
        contrib = np.asarray(gbm.classifier.predict(part, pred_contrib=True, num_threads=PREDICT_THREADS), np.float64)
        total = contrib.sum(axis=1, keepdims=True)
        change = _sigmoid(total) - _sigmoid(total - contrib[:, :-1])  # the last column is the bias
        change[:, ~keep] = 0.0
        top = np.argsort(-np.abs(change), axis=1)[:, :REASONS_PER_CUSTOMER]
        picked = np.take_along_axis(change, top, axis=1)
        values = np.take_along_axis(part, top, axis=1)
        for row in range(len(part)):
            out.append([
                {"feature": names[int(top[row, k])], "value": round(float(values[row, k]), 2),
                 "change": round(float(picked[row, k]), 3)}
                for k in range(top.shape[1])
                if abs(picked[row, k]) >= _MIN_CHANGE and not np.isnan(values[row, k])
            ])
    return out
