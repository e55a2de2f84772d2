"""The stacked model's inputs: what the simpler methods know, as features of the gradient-boosted model.

Beside a snapshot's own columns: BG/NBD's P(alive) and expected purchases over the training horizon
(BG/NBD fitted on the same snapshot, so on history up to its cut only), the RFM quintiles and their
sum. Chou et al. (2022) found the probability model's prediction the strongest of about 100 features.
"""

from __future__ import annotations

import numpy as np

from predict.baselines import quintile
from predict.bgnbd import BgNbd, fit_bgnbd
from predict.features import Snapshot

__all__ = ["STACK_FEATURES", "stacked", "subset"]

STACK_FEATURES = ("bg_p_alive", "bg_expected", "r_quintile", "f_quintile", "m_quintile", "rfm")


def stacked(snap: Snapshot, horizon_days: int, fit: BgNbd | None = None, *,
            near: BgNbd | None = None) -> tuple[Snapshot, BgNbd | None]:
    """``snap`` with the stacked columns, from ``fit`` or a BG/NBD fitted on it (started ``near`` another
    fit); NaN for BG/NBD's when there are too few customers to fit it."""
    n = len(snap.rows)
    if fit is None and n >= 10:
        fit = fit_bgnbd(snap.x, snap.t_x, snap.T, near=near)
    if fit is not None:
        alive = fit.p_alive(snap.x, snap.t_x, snap.T)
        expected = fit.expected(horizon_days / 7, snap.x, snap.t_x, snap.T)
    else:
        alive = expected = np.full(n, np.nan)
    r, f, m = quintile(-snap.column("recency")), quintile(snap.column("n")), quintile(snap.column("value"))
    extra = (alive, expected, r, f, m, r + f + m)
    features = np.column_stack([snap.features, *extra]) if n else np.zeros((0, len(snap.names) + len(extra)))
    return Snapshot(snap.cut, snap.horizon, snap.rows, (*snap.names, *STACK_FEATURES), features, snap.y_count,
                    snap.y_buy, snap.y_value), fit


def subset(snap: Snapshot, keep: np.ndarray) -> Snapshot:
    """The customers ``keep`` (a boolean mask) of a snapshot."""
    return Snapshot(snap.cut, snap.horizon, snap.rows[keep], snap.names, snap.features[keep], snap.y_count[keep],
                    snap.y_buy[keep], snap.y_value[keep])
