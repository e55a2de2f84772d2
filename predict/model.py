"""The gradient-boosted model: LightGBM, trained on an earlier window, applied at the cut.

Why LightGBM rather than scikit-learn's HistGradientBoosting: one 4 MB wheel over numpy + scipy
(which BG/NBD needs anyway), against scikit-learn's 40 MB with joblib and threadpoolctl; it is
what the CDNOW anchors were measured with, so the product reproduces them. Parameters are fixed,
not tuned on any holdout (``/shared/predict/CDNOW.md``, section 2).

Two models on the same features: a classifier for "buys within the window" and a Poisson
regressor for the number of purchase days; spend = count × the Gamma-Gamma spend per purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from predict.features import Snapshot

__all__ = ["Gbm", "train_gbm", "PARAMS"]

FloatArray = npt.NDArray[np.float64]

# LightGBM's native API (its scikit-learn wrapper would pull scikit-learn in); these are the
# anchors' LGBMClassifier settings under their native names.
ROUNDS = 300
PARAMS: dict[str, Any] = {
    "learning_rate": 0.03, "num_leaves": 15, "min_data_in_leaf": 40, "bagging_fraction": 0.8, "bagging_freq": 1,
    "feature_fraction": 0.8, "lambda_l2": 1.0, "seed": 0, "num_threads": 1, "verbose": -1, "deterministic": True,
    "force_col_wise": True,
}


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


def train_gbm(train: Snapshot, *, threads: int = 1, counts: bool = True) -> Gbm:
    """Fit on ``train`` (features at its cut, labels over its horizon); ``counts``: the Poisson regressor too."""
    params = dict(PARAMS, num_threads=threads)
    categorical: list[str] | Literal["auto"] = ["channel"] if "channel" in train.names else "auto"
    rate = float(train.y_buy.mean()) if len(train.rows) else 0.0
    if len(train.rows) < 50 or rate in (0.0, 1.0):
        return Gbm(train.names, train.horizon, None, None, rate)
    x = train.features
    names = list(train.names)

    def fit(objective: str, label: FloatArray) -> lgb.Booster:
        data = lgb.Dataset(x, label, feature_name=names, categorical_feature=categorical, free_raw_data=True)
        return lgb.train(dict(params, objective=objective), data, num_boost_round=ROUNDS)

    classifier = fit("binary", train.y_buy)
    regressor = fit("poisson", train.y_count) if counts else None
    return Gbm(train.names, train.horizon, classifier, regressor, rate)
