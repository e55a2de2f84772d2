"""Back-test: score every customer as of a past day with each method, then compare with what happened.

The gradient-boosted model is trained on the window before the day (features at
``at - train_horizon``, labels over ``(at - train_horizon, at]``), never on what it predicts;
BG/NBD and the rules see only history up to ``at``. Outcomes are purchases in ``(at, at + horizon]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from predict.accuracy import count_figures, decile_means, ranking_figures
from predict.baselines import lifecycle_count, lifecycle_stage, recency_score, rfm_score
from predict.bgnbd import BgNbd, fit_bgnbd
from predict.features import snapshot
from predict.history import History, date_of
from predict.model import train_gbm

__all__ = ["Evaluation", "evaluate", "METHODS", "model_wins"]

FloatArray = npt.NDArray[np.float64]

# Column order of every table; the keys of ``--json``'s "methods" (their names on HQ's chart: predict/config.py).
METHODS = ("model", "bgnbd", "rfm", "recency", "lifecycle")


@dataclass(frozen=True, slots=True)
class Evaluation:
    at: int
    horizon: int
    train_horizon: int
    customers: int
    buyers: int
    methods: dict[str, dict[str, float]]
    scores: dict[str, FloatArray]
    ids: tuple[str, ...]  # the scored customers, in the order of ``scores``
    deciles: dict[str, list[float]]
    bgnbd: BgNbd
    importance: dict[str, float] = field(default_factory=dict)

    @property
    def at_date(self) -> str:
        return date_of(self.at).isoformat()

    @property
    def uses_model(self) -> bool:
        return model_wins(self.methods)

    def as_json(self) -> dict[str, Any]:
        def clean(value: float) -> float | None:
            return None if math.isnan(value) else round(value, 4)

        return {
            "at": self.at_date,
            "horizon_days": self.horizon,
            "train_horizon_days": self.train_horizon,
            "customers": self.customers,
            "buyers": self.buyers,
            "methods": {name: {k: clean(v) for k, v in figures.items()} for name, figures in self.methods.items()},
            "bgnbd_params": {"r": self.bgnbd.r, "alpha": self.bgnbd.alpha, "a": self.bgnbd.a, "b": self.bgnbd.b,
                             "log_likelihood": self.bgnbd.log_likelihood},
            "uses_model": self.uses_model,
            "deciles": self.deciles,
        }


def model_wins(methods: dict[str, dict[str, float]]) -> bool:
    """The model ranks customers only when its AUC beats every rule's and its top-10% lift is at least RFM's."""
    model = methods.get("model", {})
    auc, lift = model.get("auc", math.nan), model.get("lift10", math.nan)
    if math.isnan(auc):
        return False
    rules = [methods[name] for name in ("rfm", "recency", "lifecycle") if name in methods]
    return all(auc > rule["auc"] for rule in rules) and lift >= methods.get("rfm", {}).get("lift10", -math.inf)


def evaluate(history: History, at: int, horizon: int, train_horizon: int | None = None) -> Evaluation:
    """Every method scored at day ``at`` against purchases in ``(at, at + horizon]``."""
    train_horizon = train_horizon or horizon
    test = snapshot(history, at, horizon)
    train = snapshot(history, at - train_horizon, train_horizon)
    if len(test.rows) < 10 or test.y_buy.sum() == 0:
        raise ValueError(
            f"nothing to back-test at {date_of(at)}: {len(test.rows)} customers had bought, "
            f"{int(test.y_buy.sum())} bought in the {horizon} days after"
        )
    gbm = train_gbm(train)
    fit = fit_bgnbd(test.x, test.t_x, test.T)
    bg_count = fit.expected(horizon / 7.0, test.x, test.t_x, test.T)
    stage = lifecycle_stage(test)
    scores: dict[str, FloatArray] = {
        "model": gbm.p_buy(test),
        "bgnbd": bg_count,
        "rfm": rfm_score(test),
        "recency": recency_score(test),
        "lifecycle": stage,
    }
    counts = {"model": gbm.count(test, horizon), "bgnbd": bg_count, "lifecycle": lifecycle_count(test, horizon, stage)}
    methods: dict[str, dict[str, float]] = {}
    for name in METHODS:
        figures = ranking_figures(scores[name], test.y_buy, test.y_value)
        blank = {"agg_err": math.nan, "rmse": math.nan, "mae": math.nan, "r": math.nan}
        figures.update(count_figures(counts[name], test.y_count) if name in counts else blank)
        methods[name] = figures
    deciles = {name: decile_means(scores[name], test.y_buy) for name in METHODS}
    ids = tuple(history.ids[i] for i in test.rows)
    return Evaluation(at, horizon, train_horizon, len(test.rows), int(test.y_buy.sum()), methods, scores, ids,
                      deciles, fit, gbm.importance())
