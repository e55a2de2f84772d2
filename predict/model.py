"""The gradient-boosted model: LightGBM, trained on an earlier window, applied at the cut.

Why LightGBM rather than scikit-learn's HistGradientBoosting: one 4 MB wheel over numpy + scipy
(which BG/NBD needs anyway), against scikit-learn's 40 MB with joblib and threadpoolctl; it is
what the CDNOW anchors were measured with, so the product reproduces them. Parameters are the
anchors' (``/shared/predict/CDNOW.md``, section 2), never tuned on a holdout; only the stacked
classifier's size (leaves, rounds) is chosen, on the training window (``tune_gbm``).

Two models on the same features: a classifier for "buys within the window" and a Poisson
regressor for the number of purchase days; spend = count × the Gamma-Gamma spend per purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from predict.accuracy import auc
from predict.features import Snapshot

__all__ = ["Gbm", "Tuning", "train_gbm", "tune_gbm", "PARAMS", "DEFAULT_TUNING"]

FloatArray = npt.NDArray[np.float64]

# LightGBM's native API (its scikit-learn wrapper would pull scikit-learn in); these are the
# anchors' LGBMClassifier settings under their native names.
ROUNDS = 300
PARAMS: dict[str, Any] = {
    "learning_rate": 0.03, "num_leaves": 15, "min_data_in_leaf": 40, "bagging_fraction": 0.8, "bagging_freq": 1,
    "feature_fraction": 0.8, "lambda_l2": 1.0, "seed": 0, "num_threads": 1, "verbose": -1, "deterministic": True,
    "force_col_wise": True,
}


@dataclass(frozen=True, slots=True)
class Tuning:
    """The classifier's size, chosen on the training window (``tune_gbm``); the anchors' fixed size by default."""

    num_leaves: int = 15
    rounds: int = ROUNDS
    validation_auc: float = float("nan")  # on the later training window, when tuned

    def as_json(self) -> dict[str, Any]:
        found = self.validation_auc
        return {"num_leaves": self.num_leaves, "rounds": self.rounds,
                "validation_auc": None if found != found else round(found, 4)}


DEFAULT_TUNING = Tuning()
# Tried by ``tune_gbm``: few leaves (a smooth score, as the rules are) and the anchors' 15, each at these numbers of
# rounds (a coarse grid: a small brand's validation AUC peaks by noise, early stopping would stop at a handful).
TUNE_LEAVES = (4, 15)
TUNE_ROUNDS = (50, 100, 150, 200, 300)

# Predicting a million customers is LightGBM's longest step of the nightly scoring; it parallelises well.
PREDICT_THREADS = 2


@dataclass(frozen=True, slots=True)
class Gbm:
    names: tuple[str, ...]
    horizon: int  # days of the training labels
    classifier: lgb.Booster | None  # None: everyone or no one bought in the training window
    regressor: lgb.Booster | None
    base_rate: float

    def matrix(self, snap: Snapshot) -> FloatArray:
        """The training columns, in training order; a column the snapshot lacks is unknown (NaN). The snapshot's own
        matrix when its columns are the training ones (no copy: a million customers' is a few hundred MB)."""
        if snap.names == self.names:
            return snap.features
        columns = [snap.column(name) if name in snap.names else np.full(len(snap.rows), np.nan) for name in self.names]
        return np.column_stack(columns) if columns else np.zeros((len(snap.rows), 0))

    def p_buy(self, snap: Snapshot) -> FloatArray:
        if self.classifier is None:
            return np.full(len(snap.rows), self.base_rate)
        result: FloatArray = np.asarray(self.classifier.predict(self.matrix(snap), num_threads=PREDICT_THREADS),
                                        np.float64)
        return result

    def count(self, snap: Snapshot, horizon: int) -> FloatArray:
        """Expected purchase days over ``horizon`` days (the training window's rate, scaled)."""
        scale = horizon / self.horizon
        if self.regressor is None:
            return np.full(len(snap.rows), self.base_rate * scale)
        result: FloatArray = np.asarray(self.regressor.predict(self.matrix(snap), num_threads=PREDICT_THREADS),
                                        np.float64) * scale
        return result

    def importance(self) -> dict[str, float]:
        """Share of the classifier's split gain per feature: what the model learned from."""
        if self.classifier is None:
            return {}
        gain = self.classifier.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        return {name: float(g) / total for name, g in zip(self.names, gain, strict=True)}


def train_gbm(train: Snapshot, *, threads: int = 1, counts: bool = True, tuning: Tuning = DEFAULT_TUNING) -> Gbm:
    """Fit on ``train`` (features at its cut, labels over its horizon); ``counts``: the Poisson regressor too (at the
    anchors' size: ``tuning`` sizes the classifier)."""
    params = dict(PARAMS, num_threads=threads)
    categorical: list[str] | Literal["auto"] = ["channel"] if "channel" in train.names else "auto"
    rate = float(train.y_buy.mean()) if len(train.rows) else 0.0
    if len(train.rows) < 50 or rate in (0.0, 1.0):
        return Gbm(train.names, train.horizon, None, None, rate)
    x = train.features
    names = list(train.names)

    def fit(objective: str, label: FloatArray, leaves: int = 15, rounds: int = ROUNDS) -> lgb.Booster:
        data = lgb.Dataset(x, label, feature_name=names, categorical_feature=categorical, free_raw_data=True)
        return lgb.train(dict(params, objective=objective, num_leaves=leaves), data, num_boost_round=rounds)

    classifier = fit("binary", train.y_buy, tuning.num_leaves, tuning.rounds)
    regressor = fit("poisson", train.y_count) if counts else None
    return Gbm(train.names, train.horizon, classifier, regressor, rate)


def tune_gbm(train: Snapshot, valid: Snapshot, *, threads: int = 1) -> Tuning:
    """The classifier's size that ranks ``valid`` best when trained on ``train``: both inside the training window
    (``train`` one window earlier than ``valid``, ``valid``'s labels ending at the back-test's cut), so nothing
    it predicts is seen. The anchors' fixed size when either window is too small to tell."""
    def usable(snap: Snapshot) -> bool:
        rate = float(snap.y_buy.mean()) if len(snap.rows) else 0.0
        return len(snap.rows) >= 50 and 0.0 < rate < 1.0

    if not (usable(train) and usable(valid)) or train.names != valid.names:
        return DEFAULT_TUNING
    categorical: list[str] | Literal["auto"] = ["channel"] if "channel" in train.names else "auto"
    names = list(train.names)
    best = DEFAULT_TUNING
    for leaves in TUNE_LEAVES:
        data = lgb.Dataset(train.features, train.y_buy, feature_name=names, categorical_feature=categorical)
        params = dict(PARAMS, num_threads=threads, objective="binary", num_leaves=leaves)
        booster = lgb.train(params, data, num_boost_round=max(TUNE_ROUNDS))
        for rounds in TUNE_ROUNDS:  # fewest first: a tie keeps the smaller model
            found = auc(np.asarray(booster.predict(valid.features, num_iteration=rounds), np.float64), valid.y_buy)
            if not found <= best.validation_auc:  # the first, or a better one (NaN compares false)
                best = Tuning(leaves, rounds, found)
    return best
