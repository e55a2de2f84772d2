"""Score every customer now: the figures stored nightly (pure numpy; the service runs it in a thread).

1. Back-test at ``today - 90`` (on up to 200k customers): which method ranks this brand's customers
   best, honestly (``predict/choice.py``)?
2. Fit BG/NBD + Gamma-Gamma on everything; train the stacked model on the last 90 days' outcomes (on
   up to 200k customers: a ranking learned from 200k does not improve with a million).
3. Per customer: P(buy in 30 / 90 days), calibrated (the chosen method's score on the back-test
   against what then happened, by percentile), expected purchases and spend in 90 days, P(alive),
   the day a purchase becomes more likely than not, a rank by the chosen method (ties by BG/NBD's
   expected purchases), and the 2–3 features that moved the stacked model's score most (for the
   best-ranked ``REASON_CUSTOMERS``: exact contributions are slow).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from predict.backtest import Evaluation, evaluate
from predict.baselines import lifecycle_stage, recency_score, rfm_score
from predict.bgnbd import fit_bgnbd, fit_gamma_gamma
from predict.calibration import fit_isotonic, percentile
from predict.config import REASON_TEXTS
from predict.features import snapshot
from predict.history import History
from predict.model import DEFAULT_TUNING, train_gbm
from predict.reasons import top_reasons
from predict.stack import stacked

__all__ = ["Scored", "score_now", "HORIZON", "SHORT"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
HORIZON, SHORT = 90, 30
NEXT_PURCHASE_MAX_DAYS = 365
BACKTEST_CUSTOMERS = 200_000
TRAIN_CUSTOMERS = 200_000
# LightGBM's exact per-feature contributions (TreeSHAP) cost about 0.5-2 ms a customer, a thousand times its
# prediction: a large brand's best-ranked this many get them nightly, the others the plain facts (chat.py).
REASON_CUSTOMERS = 50_000


@dataclass(frozen=True, slots=True)
class Scored:
    today: int
    rows: IntArray  # customer indices into History.ids
    p_buy_30: FloatArray
    p_buy_90: FloatArray
    purchases_90: FloatArray
    spend_90: FloatArray
    p_alive: FloatArray
    p_alive_peak: FloatArray  # just after the last purchase (NaN for one-time buyers: P(alive) stays 1)
    next_in_days: FloatArray  # NaN: not within a year
    rank_pct: FloatArray  # share ranked above, 0 = the best
    method: str  # the chosen method (predict/choice.py)
    why: list[dict[str, Any]]
    backtest: dict[str, Any] = field(default_factory=dict)


def _backtest(history: History, today: int) -> Evaluation | None:
    # The verdict needs no million customers: ±0.003 AUC at 200k, and the nightly run stays short.
    try:
        return evaluate(history.sample(BACKTEST_CUSTOMERS), today - HORIZON, HORIZON)
    except ValueError:
        return None  # too little history to test on: the model has not earned its place


def _facts(snap_cols: dict[str, FloatArray], i: int) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for name, value in snap_cols.items():
        v = float(value[i])
        if not math.isnan(v) and (v != 0 or name in ("recency", "n")):
            facts[name] = round(v, 2)
    return facts


def _calibrate(evaluation: Evaluation | None, chosen: str, score: FloatArray,
               fallback: tuple[FloatArray, FloatArray]) -> tuple[FloatArray, FloatArray]:
    """P(buy within 30 / 90 days): the back-test's scores for the chosen method (a model trained one window
    earlier, as tonight's is) against what followed, by percentile; BG/NBD's own without a back-test."""
    if evaluation is None:
        return fallback
    earlier, now = percentile(evaluation.scores[chosen]), percentile(score)
    p90 = fit_isotonic(earlier, evaluation.y_buy)(now)
    p30 = fit_isotonic(earlier, (evaluation.next_in_days <= SHORT).astype(np.float64))(now)
    return np.minimum(p30, p90), p90


def score_now(history: History, today: int, *, use_backtest: bool = True) -> Scored:
    evaluation = _backtest(history, today) if use_backtest else None
    chosen = evaluation.chosen if evaluation is not None else "rfm"
    now = snapshot(history, today, HORIZON)
    x, t_x, T = now.x, now.t_x, now.T
    bg = fit_bgnbd(x, t_x, T) if len(now.rows) >= 10 else None
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_repeat = np.where(x > 0, (now.column("value") - now.column("first_value")) / x, 0.0)
    spend_per = fit_gamma_gamma(x, mean_repeat).expected_spend(x, mean_repeat)
    n = len(now.rows)
    if bg is not None:
        p_alive = bg.p_alive(x, t_x, T)
        p_alive_peak = np.where(x > 0, bg.p_alive(x, t_x, t_x), np.nan)
        bg_p90, bg_p30 = bg.p_buy(HORIZON / 7, x, t_x, T), bg.p_buy(SHORT / 7, x, t_x, T)
        bg_count = bg.expected(HORIZON / 7, x, t_x, T)
        next_days = bg.time_to_p(0.5, x, t_x, T) * 7
    else:
        p_alive = p_alive_peak = bg_p90 = bg_p30 = bg_count = np.full(n, np.nan)
        next_days = np.full(n, np.inf)
    train = snapshot(history.sample(TRAIN_CUSTOMERS), today - HORIZON, HORIZON)
    train_stack, _ = stacked(train, HORIZON, near=bg)
    now_stack, _ = stacked(now, HORIZON, bg)
    tuning = evaluation.ensemble_tuning if evaluation is not None else DEFAULT_TUNING  # sized on the back-test's window
    ensemble = train_gbm(train_stack, counts=chosen == "ensemble", tuning=tuning)
    ensemble_matrix = ensemble.matrix(now_stack)
    count = bg_count
    if chosen == "model":
        gbm = train_gbm(train)
        score, count = gbm.p_buy(now), gbm.count(now, HORIZON)
    elif chosen == "ensemble":
        score, count = ensemble.p_buy(now_stack), ensemble.count(now_stack, HORIZON)
    else:
        score = {"bgnbd": bg_count, "rfm": rfm_score(now), "recency": recency_score(now),
                 "lifecycle": lifecycle_stage(now)}[chosen]
    p30, p90 = _calibrate(evaluation, chosen, score, (bg_p30, bg_p90))
    tie_break = np.nan_to_num(bg_count) / (1 + np.nanmax(np.r_[bg_count, 0]))
    rank_key = percentile(score) + tie_break / max(n, 1)  # within a tie of the chosen score only
    rank_pct = (n - rankdata(rank_key, method="max")) / max(n, 1)
    spend = np.maximum(count, 0) * np.nan_to_num(spend_per)
    next_in = np.where(next_days <= NEXT_PURCHASE_MAX_DAYS, np.ceil(next_days), np.nan)
    cols = {name: now.column(name) for name in now.names if name in _FACT_FEATURES or name.endswith("_30d")}
    explained = np.argsort(rank_pct, kind="stable")[:REASON_CUSTOMERS]
    reasons: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    for i, found in zip(explained, top_reasons(ensemble, ensemble_matrix[explained], ensemble.names,
                                               set(REASON_TEXTS)), strict=True):
        reasons[int(i)] = found
    why = [{**_facts(cols, i), "reasons": reasons[i]} for i in range(n)]
    back = evaluation.as_json() if evaluation is not None else {"note": "not enough history for a back-test"}
    return Scored(today, now.rows, p30, p90, count, spend, p_alive, p_alive_peak, next_in, rank_pct, chosen, why,
                  back)


_FACT_FEATURES = {"recency", "n", "value", "gap_mean", "tenure"}
