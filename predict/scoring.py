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

Steps 1-2 are ``fit_now``, step 3 ``score``: the figures of a million customers are vectors (each
built once, shared between the ranking, the calibration and the stacked model's inputs), LightGBM
predicts on ``PREDICT_THREADS``, and what a guide reads (``Why``) is kept as columns until it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from predict.backtest import Evaluation, evaluate
from predict.baselines import lifecycle_stage, recency_score
from predict.bgnbd import BgNbd, GammaGamma, fit_bgnbd, fit_gamma_gamma
from predict.calibration import fit_isotonic, percentile
from predict.config import REASON_TEXTS
from predict.features import Snapshot, snapshot
from predict.history import History
from predict.model import DEFAULT_TUNING, Gbm, train_gbm
from predict.reasons import top_reasons
from predict.scored import FloatArray, Scored, Why
from predict.stack import stack_columns, stacked, with_columns

__all__ = ["Fitted", "Scored", "Why", "fit_now", "score", "score_now", "HORIZON", "SHORT"]

HORIZON, SHORT = 90, 30
NEXT_PURCHASE_MAX_DAYS = 365
BACKTEST_CUSTOMERS = 200_000
TRAIN_CUSTOMERS = 200_000
# LightGBM's exact per-feature contributions (TreeSHAP) cost about 0.5-2 ms a customer, a thousand times its
# prediction: a large brand's best-ranked this many get them nightly, the others the plain facts (chat.py).
REASON_CUSTOMERS = 50_000


@dataclass(frozen=True, slots=True)
class Fitted:
    """What tonight's scoring applies, learned before it: the back-test's verdict and the models."""

    evaluation: Evaluation | None
    chosen: str
    bg: BgNbd | None  # None: fewer than 10 customers
    spend: GammaGamma
    ensemble: Gbm  # the stacked classifier (and its Poisson counts when it ranks): the reasons' model
    model: Gbm | None  # the plain model's classifier and counts, when it ranks


def _backtest(history: History, today: int) -> Evaluation | None:
    # The verdict needs no million customers: ±0.003 AUC at 200k, and the nightly run stays short.
    try:
        return evaluate(history.sample(BACKTEST_CUSTOMERS), today - HORIZON, HORIZON)
    except ValueError:
        return None  # too little history to test on: the model has not earned its place


def _mean_repeat(now: Snapshot, x: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        result: FloatArray = np.where(x > 0, (now.column("value") - now.column("first_value")) / x, 0.0)
    return result


def _calibrate(evaluation: Evaluation | None, chosen: str, now_pct: FloatArray,
               fallback: tuple[FloatArray, FloatArray]) -> tuple[FloatArray, FloatArray]:
    """P(buy within 30 / 90 days): the back-test's scores for the chosen method (a model trained one window
    earlier, as tonight's is) against what followed, by percentile (``now_pct``: tonight's score's);
    BG/NBD's own without a back-test."""
    if evaluation is None:
        return fallback
    earlier = percentile(evaluation.scores[chosen])
    p90 = fit_isotonic(earlier, evaluation.y_buy)(now_pct)
    p30 = fit_isotonic(earlier, (evaluation.next_in_days <= SHORT).astype(np.float64))(now_pct)
    return np.minimum(p30, p90), p90


def fit_now(history: History, today: int, now: Snapshot, evaluation: Evaluation | None, *,
            chosen: str | None = None) -> Fitted:
    """BG/NBD and Gamma-Gamma on everyone at ``now`` (each on a sample where it needs no more), the stacked model
    and, when it ranks, the plain model on the last ``HORIZON`` days' outcomes (on up to 200k customers).
    ``chosen``: rank by this method whatever the back-test chose (a benchmark's)."""
    chosen = chosen or (evaluation.chosen if evaluation is not None else "rfm")
    x = now.x
    bg = fit_bgnbd(x, now.t_x, now.T) if len(now.rows) >= 10 else None
    spend = fit_gamma_gamma(x, _mean_repeat(now, x))
    train = snapshot(history.sample(TRAIN_CUSTOMERS), today - HORIZON, HORIZON)
    train_stack, _ = stacked(train, HORIZON, near=bg)
    tuning = evaluation.ensemble_tuning if evaluation is not None else DEFAULT_TUNING  # sized on the back-test's window
    ensemble = train_gbm(train_stack, counts=chosen == "ensemble", tuning=tuning)
    model = train_gbm(train) if chosen == "model" else None
    return Fitted(evaluation, chosen, bg, spend, ensemble, model)


def score(now: Snapshot, fitted: Fitted, *, reasons: int = REASON_CUSTOMERS) -> Scored:
    """Everyone in ``now`` scored with ``fitted``; exact reasons for the best-ranked ``reasons``."""
    chosen, bg, n = fitted.chosen, fitted.bg, len(now.rows)
    x, t_x, T = now.x, now.t_x, now.T
    if bg is not None:
        p_alive = bg.p_alive(x, t_x, T)
        p_alive_peak = np.where(x > 0, bg.p_alive(x, t_x, t_x), np.nan)
        bg_p90, bg_p30 = bg.p_buy(HORIZON / 7, x, t_x, T), bg.p_buy(SHORT / 7, x, t_x, T)
        bg_count = bg.expected(HORIZON / 7, x, t_x, T)  # also the stacked model's input (its horizon is HORIZON)
        next_days = bg.time_to_p(0.5, x, t_x, T) * 7
    else:
        p_alive = p_alive_peak = bg_p90 = bg_p30 = bg_count = np.full(n, np.nan)
        next_days = np.full(n, np.inf)
    extra = stack_columns(now, p_alive, bg_count)  # the RFM quintiles, computed once for the rule and the model
    count = bg_count
    if chosen == "model":
        assert fitted.model is not None
        score_of, count = fitted.model.p_buy(now), fitted.model.count(now, HORIZON)
    elif chosen == "ensemble":
        now_stack = with_columns(now, extra)
        score_of, count = fitted.ensemble.p_buy(now_stack), fitted.ensemble.count(now_stack, HORIZON)
        del now_stack
    else:
        score_of = {"bgnbd": bg_count, "rfm": extra[-1], "recency": recency_score(now),
                    "lifecycle": lifecycle_stage(now)}[chosen]
    now_pct = percentile(score_of)
    p30, p90 = _calibrate(fitted.evaluation, chosen, now_pct, (bg_p30, bg_p90))
    tie_break = np.nan_to_num(bg_count) / (1 + np.nanmax(np.r_[bg_count, 0]))
    rank_key = now_pct + tie_break / max(n, 1)  # within a tie of the chosen score only
    rank_pct = (n - rankdata(rank_key, method="max")) / max(n, 1)
    spend = np.maximum(count, 0) * np.nan_to_num(fitted.spend.expected_spend(x, _mean_repeat(now, x)))
    next_in = np.where(next_days <= NEXT_PURCHASE_MAX_DAYS, np.ceil(next_days), np.nan)
    facts = {name: now.column(name) for name in now.names if name in _FACT_FEATURES or name.endswith("_30d")}
    explained = np.argsort(rank_pct, kind="stable")[:reasons]
    found = top_reasons(fitted.ensemble, fitted.ensemble.matrix(with_columns(now, extra, explained)),
                        fitted.ensemble.names, set(REASON_TEXTS)) if len(explained) else []
    why = Why(facts, {int(i): r for i, r in zip(explained.tolist(), found, strict=True)}, n)
    back = fitted.evaluation.as_json() if fitted.evaluation is not None else \
        {"note": "not enough history for a back-test"}
    return Scored(now.cut, now.rows, p30, p90, count, spend, p_alive, p_alive_peak, next_in, rank_pct, chosen, why,
                  back)


def score_now(history: History, today: int, *, use_backtest: bool = True) -> Scored:
    evaluation = _backtest(history, today) if use_backtest else None
    now = snapshot(history, today, HORIZON)
    return score(now, fit_now(history, today, now, evaluation))


_FACT_FEATURES = {"recency", "n", "value", "gap_mean", "tenure"}
