"""The stacked model's inputs: what the simpler methods know, as features of the gradient-boosted model.

Beside a snapshot's own columns: BG/NBD's P(alive) and expected purchases over the training horizon
(BG/NBD fitted on the same snapshot, so on history up to its cut only), the RFM quintiles and their
sum. Chou et al. (2022) found the probability model's prediction the strongest of about 100 features.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from predict.baselines import quintile
from predict.bgnbd import BgNbd, fit_bgnbd
from predict.features import Snapshot

__all__ = ["STACK_FEATURES", "stacked", "stack_columns", "with_columns", "subset"]

FloatArray = npt.NDArray[np.float64]
STACK_FEATURES = ("bg_p_alive", "bg_expected", "r_quintile", "f_quintile", "m_quintile", "rfm")


def stacked(snap: Snapshot, horizon_days: int, fit: BgNbd | None = None, *,
            near: BgNbd | None = None) -> tuple[Snapshot, BgNbd | None]:
    """``snap`` with the stacked columns, from ``fit`` or a BG/NBD fitted on it (started ``near`` another
    fit); NaN for BG/NBD's when there are too few customers to fit it."""
    n = len(snap.rows)
    if fit is None and n >= 10:
        fit = fit_bgnbd(snap.x, snap.t_x, snap.T, near=near)
    if fit is not None:
        x, t_x, T = snap.x, snap.t_x, snap.T
        alive, expected = fit.p_alive(x, t_x, T), fit.expected(horizon_days / 7, x, t_x, T)
    else:
        alive = expected = np.full(n, np.nan)
    return with_columns(snap, stack_columns(snap, alive, expected)), fit


def stack_columns(snap: Snapshot, alive: FloatArray, expected: FloatArray) -> tuple[FloatArray, ...]:
    """The stacked columns (``STACK_FEATURES``' order) from BG/NBD's P(alive) and expected purchases over the
    training horizon: the last one is the RFM score (``baselines.rfm_score``)."""
    r, f, m = quintile(-snap.column("recency")), quintile(snap.column("n")), quintile(snap.column("value"))
    return alive, expected, r, f, m, r + f + m


def with_columns(snap: Snapshot, extra: tuple[FloatArray, ...], keep: npt.NDArray[np.int64] | None = None) -> Snapshot:
    """``snap`` with the stacked columns ``extra``; ``keep``: only those rows (the matrix of a million customers
    is a few hundred MB, and the reasons need the best-ranked 50,000's)."""
    if keep is not None:
        snap = Snapshot(snap.cut, snap.horizon, snap.rows[keep], snap.names, snap.features[keep], snap.y_count[keep],
                        snap.y_buy[keep], snap.y_value[keep])
        extra = tuple(column[keep] for column in extra)
    n = len(snap.rows)
    features = np.column_stack([snap.features, *extra]) if n else np.zeros((0, len(snap.names) + len(extra)))
    return Snapshot(snap.cut, snap.horizon, snap.rows, (*snap.names, *STACK_FEATURES), features, snap.y_count,
                    snap.y_buy, snap.y_value)


def subset(snap: Snapshot, keep: np.ndarray) -> Snapshot:
    """The customers ``keep`` (a boolean mask) of a snapshot."""
    return Snapshot(snap.cut, snap.horizon, snap.rows[keep], snap.names, snap.features[keep], snap.y_count[keep],
                    snap.y_buy[keep], snap.y_value[keep])
