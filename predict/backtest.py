"""Back-test: score every customer as of a past day with each method, then compare with what happened.

The gradient-boosted models are trained on the window before the day (features at
``at - train_horizon``, labels over ``(at - train_horizon, at]``), never on what they predict;
BG/NBD and the rules see only history up to ``at``. Outcomes are purchases in ``(at, at + horizon]``.
The training window is the horizon itself when it fits in the last third of the history before the
day, else that last third (``default_train_horizon``): CDNOW's published protocol (features at week
26, labels over weeks 27-39) is exactly this rule at a 39-week history.

Each AUC carries a 95% interval, and so does each paired difference (DeLong); the method that ranks
is chosen from them (``predict/choice.py``). The chosen method's score is then made a probability,
calibrated on the training window only (``predict/calibration.py``): its Brier score and a table of
predicted against observed rates by tenths show whether "84%" means 84%.
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
from predict.calibration import brier, fit_isotonic, percentile, reliability
from predict.choice import LEARNED, Choice, choose
from predict.features import Snapshot, snapshot
from predict.history import History, date_of
from predict.intervals import AucIntervals, delong
from predict.model import DEFAULT_TUNING, Gbm, Tuning, train_gbm, tune_gbm
from predict.stack import stacked, subset

__all__ = ["Evaluation", "evaluate", "METHODS", "MIN_CALIBRATION_CUSTOMERS", "days_to_next", "default_train_horizon",
           "out_of_fold"]

FloatArray = npt.NDArray[np.float64]

# Column order of every table; the keys of ``--json``'s "methods" (their names on HQ's chart: predict/config.py).
METHODS = ("model", "bgnbd", "rfm", "recency", "lifecycle", "ensemble")
# Fewer customers in the training window than this (or all or none of them buying) and no P(buy) is
# calibrated: the gradient-boosted models need as many (``predict/model.py``).
MIN_CALIBRATION_CUSTOMERS = 50


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
    intervals: AucIntervals
    choice: Choice
    p_buy: FloatArray  # the chosen method's score as P(buy within the horizon), calibrated on the training window
    # (all NaN when it cannot be: ``uncalibrated`` says why)
    y_buy: FloatArray
    next_in_days: FloatArray  # days from ``at`` to each customer's next purchase (inf: none within the horizon)
    importance: dict[str, float] = field(default_factory=dict)
    uncalibrated: str = ""  # why no P(buy) could be calibrated on the training window ("" when it was)
    ensemble_tuning: Tuning = DEFAULT_TUNING  # the stacked classifier's size, chosen on the training window

    @property
    def at_date(self) -> str:
        return date_of(self.at).isoformat()

    @property
    def chosen(self) -> str:
        return self.choice.chosen

    @property
    def uses_model(self) -> bool:
        return self.chosen in LEARNED

    @property
    def calibrated(self) -> bool:
        return not self.uncalibrated

    @property
    def brier(self) -> float:
        return brier(self.p_buy, self.y_buy) if self.calibrated else math.nan

    def reliability(self) -> list[dict[str, float]]:
        """The calibrated P(buy) against what happened, by tenths (empty when nothing was calibrated)."""
        return reliability(self.p_buy, self.y_buy) if self.calibrated else []

    def calibration(self) -> dict[str, Any]:
        """How P(buy) was calibrated: on which label window, stretched to which horizon, or why it was not."""
        if not self.calibrated:
            return {"calibrated": False, "why_not": self.uncalibrated}
        stretched = self.train_horizon != self.horizon
        how = (f"isotonic on the chosen score's percentile over the {self.train_horizon} days before the cut"
               + (f", stretched to {self.horizon} days by each customer's BG/NBD time profile" if stretched else ""))
        return {"calibrated": True, "label_days": self.train_horizon,
                "stretched_to_days": self.horizon if stretched else None, "how": how}

    def differences(self) -> dict[str, dict[str, Any]]:
        """Every pair's AUC difference with its 95% interval, keyed ``a-b`` (a before b in METHODS)."""
        out: dict[str, dict[str, Any]] = {}
        for i, a in enumerate(METHODS):
            for b in METHODS[i + 1:]:
                delta, low, high = self.intervals.difference(a, b)
                out[f"{a}-{b}"] = {"auc_diff": _clean(delta), "ci": [_clean(low), _clean(high)]}
        return out

    def as_json(self) -> dict[str, Any]:
        methods: dict[str, dict[str, Any]] = {}
        for name, figures in self.methods.items():
            low, high = self.intervals.interval(name)
            methods[name] = {**{k: _clean(v) for k, v in figures.items()}, "auc_ci": [_clean(low), _clean(high)]}
        return {
            "at": self.at_date,
            "horizon_days": self.horizon,
            "train_horizon_days": self.train_horizon,
            "customers": self.customers,
            "buyers": self.buyers,
            "methods": methods,
            "differences": self.differences(),
            "chosen": self.chosen,
            "best": self.choice.best,
            "why_chosen": self.choice.reason,
            "bgnbd_params": {"r": self.bgnbd.r, "alpha": self.bgnbd.alpha, "a": self.bgnbd.a, "b": self.bgnbd.b,
                             "log_likelihood": self.bgnbd.log_likelihood},
            "uses_model": self.uses_model,
            "brier": _clean(self.brier),
            "base_rate_brier": _clean(brier(np.full(len(self.y_buy), self.y_buy.mean()), self.y_buy)),
            "reliability": self.reliability(),
            "calibration": self.calibration(),
            "ensemble_tuning": self.ensemble_tuning.as_json(),
            "deciles": self.deciles,
        }


def _clean(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def days_to_next(history: History, cut: int, rows: npt.NDArray[np.int64], horizon: int) -> FloatArray:
    """Days from ``cut`` to each row's first purchase in ``(cut, cut + horizon]`` (inf: none)."""
    after = (history.day > cut) & (history.day <= cut + horizon)
    first = np.full(history.size, np.inf)
    np.minimum.at(first, history.customer[after], (history.day[after] - cut).astype(np.float64))
    result: FloatArray = first[rows]
    return result


def out_of_fold(train: Snapshot, *, folds: int = 2, tuning: Tuning = DEFAULT_TUNING) -> FloatArray:
    """Each training customer's model score from a model that did not see them (for calibration)."""
    fold = np.random.default_rng(0).integers(0, folds, len(train.rows))
    scores = np.empty(len(train.rows))
    for k in range(folds):
        model = train_gbm(subset(train, fold != k), counts=False, tuning=tuning)
        scores[fold == k] = model.p_buy(subset(train, fold == k))
    return scores


def _rule_scores(snap: Snapshot, fit: BgNbd | None, horizon: int) -> dict[str, FloatArray]:
    n = len(snap.rows)
    return {
        "bgnbd": fit.expected(horizon / 7.0, snap.x, snap.t_x, snap.T) if fit is not None else np.full(n, np.nan),
        "rfm": rfm_score(snap),
        "recency": recency_score(snap),
        "lifecycle": lifecycle_stage(snap),
    }


def _calibrated(history: History, chosen: str, train: Snapshot, test: Snapshot, models: dict[str, Gbm],
                fits: tuple[BgNbd | None, BgNbd], horizon: int, tuning: Tuning = DEFAULT_TUNING) -> FloatArray:
    """P(buy within ``horizon``) at the test cut from the chosen method's score, fitted on the training window.

    The fit is over the training horizon; a longer (or shorter) horizon follows each customer's BG/NBD
    time profile (``_stretch_exponent``), corrected by how well that profile stretched, inside the
    training window, a shorter horizon to the training one in the same ratio (``_learn_weight``).
    """
    train_fit, test_fit = fits
    th = train.horizon
    if chosen in LEARNED:
        train_snap, test_snap, size = train, test, DEFAULT_TUNING
        if chosen == "ensemble":
            train_snap, test_snap = stacked(train, th, train_fit)[0], stacked(test, th, test_fit)[0]
            size = tuning
        train_score, test_score = out_of_fold(train_snap, tuning=size), models[chosen].p_buy(test_snap)
    else:
        train_score = _rule_scores(train, train_fit, th)[chosen]
        test_score = _rule_scores(test, test_fit, th)[chosen]
    # By percentile, not raw score: a score's range moves between cuts (recency reaches further back at
    # the later one), and a mapping read off the earlier range would be extrapolated.
    train_score, test_score = percentile(train_score), percentile(test_score)
    p = fit_isotonic(train_score, train.y_buy)(test_score)
    if horizon == th or train_fit is None:
        return p
    k_test = _stretch_exponent(test_fit, test, horizon, th)
    short = round(th * th / horizon)
    weight = 0.0
    if horizon > th and short >= 7:
        y_short = np.isfinite(days_to_next(history, train.cut, train.rows, short)).astype(np.float64)
        p_short = fit_isotonic(train_score, y_short)(train_score)
        k_train = _stretch_exponent(train_fit, train, th, short)
        weight = _learn_weight(p_short, k_train, th / short, train.y_buy)
    k = np.exp((1 - weight) * np.log(k_test) + weight * np.log(horizon / th))
    result: FloatArray = 1.0 - np.power(1.0 - np.clip(p, 0.0, 1.0), k)
    return result


def _stretch_exponent(fit: BgNbd, snap: Snapshot, long: int, short: int) -> FloatArray:
    """``log(1 − P_bg(long)) / log(1 − P_bg(short))`` per customer: how much more a longer window holds."""
    p_long = np.clip(fit.p_buy(long / 7, snap.x, snap.t_x, snap.T), 0, 1 - 1e-12)
    p_short = np.clip(fit.p_buy(short / 7, snap.x, snap.t_x, snap.T), 0, 1 - 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.log1p(-p_long) / np.log1p(-p_short)
    result: FloatArray = np.where(np.isfinite(k) & (k > 0), k, long / short)
    return result


def _learn_weight(p_short: FloatArray, k_bg: FloatArray, ratio: float, y_long: FloatArray) -> float:
    """Between BG/NBD's profile (0) and a constant purchase rate (1): the blend that stretched best in-window."""
    grid = np.linspace(0.0, 1.0, 21)
    losses = [brier(1.0 - np.power(1.0 - p_short, np.exp((1 - w) * np.log(k_bg) + w * np.log(ratio))), y_long)
              for w in grid]
    return float(grid[int(np.argmin(losses))])


def default_train_horizon(history: History, at: int, horizon: int) -> int:
    """The training (and calibration) label window: the horizon, or the last third of the history before ``at``
    when the horizon is longer (at least a day).

    The training cut then keeps two-thirds of the history for its features, as CDNOW's protocol does
    (39 weeks: trained at week 26 on weeks 27-39), and the calibration is learned near the cut it is
    applied at. A longer window puts the training cut in a young cohort's first weeks, whose buying
    rates by rank do not carry to the cut: inside CDNOW's training window alone (history cut at week
    19, predicting the 19 weeks after), calibrating on the last half of the history misses by up to
    9.8 points a tenth, the last third by 5.6, the last quarter by 4.6 (bench/RESULTS.md §16). The
    third, not the quarter: the same window trains the model, and the published protocol is the third.
    """
    past = history.day[history.day <= at]
    if not len(past):
        return horizon
    return max(1, min(horizon, round((at - int(past.min())) / 3)))


def _why_uncalibrated(train: Snapshot) -> str:
    n, buyers = len(train.rows), int(train.y_buy.sum())
    if n < MIN_CALIBRATION_CUSTOMERS or buyers in (0, n):
        return (f"the training window (the {train.horizon} days before the cut) has {n} customers of whom {buyers} "
                f"bought: too few to calibrate P(buy) on (at least {MIN_CALIBRATION_CUSTOMERS}, some buying and some "
                "not); rankings are unaffected")
    return ""


def evaluate(history: History, at: int, horizon: int, train_horizon: int | None = None) -> Evaluation:
    """Every method scored at day ``at`` against purchases in ``(at, at + horizon]``."""
    train_horizon = train_horizon or default_train_horizon(history, at, horizon)
    test = snapshot(history, at, horizon)
    train = snapshot(history, at - train_horizon, train_horizon)
    if len(test.rows) < 10 or test.y_buy.sum() == 0:
        raise ValueError(
            f"nothing to back-test at {date_of(at)}: {len(test.rows)} customers had bought, "
            f"{int(test.y_buy.sum())} bought in the {horizon} days after"
        )
    gbm = train_gbm(train)
    fit = fit_bgnbd(test.x, test.t_x, test.T)
    train_stack, train_fit = stacked(train, train_horizon, near=fit)
    # The stacked classifier's size is chosen one window earlier: trained on the window before the training
    # one, ranked on the training one (whose labels end at the cut), so the back-test's outcomes never tune it.
    tune_stack, _ = stacked(snapshot(history, at - 2 * train_horizon, train_horizon), train_horizon, near=train_fit)
    tuning = tune_gbm(tune_stack, train_stack)
    ensemble = train_gbm(train_stack, counts=False, tuning=tuning)
    test_stack, _ = stacked(test, train_horizon, fit)
    stage = lifecycle_stage(test)
    rules = _rule_scores(test, fit, horizon)
    scores: dict[str, FloatArray] = {"model": gbm.p_buy(test), **rules, "ensemble": ensemble.p_buy(test_stack)}
    counts = {"model": gbm.count(test, horizon), "bgnbd": rules["bgnbd"],
              "lifecycle": lifecycle_count(test, horizon, stage)}
    methods: dict[str, dict[str, float]] = {}
    for name in METHODS:
        figures = ranking_figures(scores[name], test.y_buy, test.y_value)
        blank = {"agg_err": math.nan, "rmse": math.nan, "mae": math.nan, "r": math.nan}
        figures.update(count_figures(counts[name], test.y_count) if name in counts else blank)
        methods[name] = figures
    intervals = delong(scores, test.y_buy)
    choice = choose(intervals)
    uncalibrated = _why_uncalibrated(train)
    p_buy = np.full(len(test.rows), np.nan) if uncalibrated else _calibrated(
        history, choice.chosen, train, test, {"model": gbm, "ensemble": ensemble}, (train_fit, fit), horizon, tuning)
    deciles = {name: decile_means(scores[name], test.y_buy) for name in METHODS}
    ids = tuple(history.ids[i] for i in test.rows)
    return Evaluation(at, horizon, train_horizon, len(test.rows), int(test.y_buy.sum()), methods, scores, ids,
                      deciles, fit, intervals, choice, p_buy, test.y_buy,
                      days_to_next(history, at, test.rows, horizon), gbm.importance(), uncalibrated, tuning)

