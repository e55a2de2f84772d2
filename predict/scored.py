"""What the nightly scoring hands back to the worker, importable without the models.

The scoring runs in a child process (predict/service.py); the worker unpickles its result. Kept apart from
predict/scoring.py so that unpickling imports numpy alone: the models' modules (LightGBM, SciPy) would add ~80 MB
to a worker's resident memory for good, for a job that runs once a night.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from predict.history import History

__all__ = ["FloatArray", "IntArray", "Scored", "Why", "score_in_child"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Why:
    """What a guide reads per customer: the plain facts (``_FACT_FEATURES`` and the last 30 days' signals) and, for
    the best-ranked, the 2-3 features that moved the score most. Kept as columns (a million customers' dicts would
    be about 600 MB): ``why[i]`` is customer ``i``'s dict, built when it is read or stored."""

    __slots__ = ("_facts", "_reasons", "_n")

    def __init__(self, facts: dict[str, FloatArray], reasons: dict[int, list[dict[str, Any]]], n: int) -> None:
        self._facts, self._reasons, self._n = facts, reasons, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows(i, i + 1)[0]

    def rows(self, start: int, stop: int) -> list[dict[str, Any]]:
        """Customers ``start`` to ``stop``: a fact is given when known and, but for recency and purchases, not 0;
        rounded to 2 places as Python's ``round`` does."""
        stop = min(stop, self._n)
        out: list[dict[str, Any]] = [{} for _ in range(max(stop - start, 0))]
        for name, column in self._facts.items():
            part = column[start:stop]
            shown = ~np.isnan(part) if name in ("recency", "n") else ~np.isnan(part) & (part != 0)
            where = np.flatnonzero(shown)
            values = _round2(part[where])
            for k, value in zip(where.tolist(), values, strict=True):
                out[k][name] = value
        for k, facts in enumerate(out):
            facts["reasons"] = self._reasons.get(start + k, [])
        return out


def _round2(values: FloatArray) -> list[float]:
    """``[round(v, 2) for v in values]``, vectorised: numpy's rounding (x 100, to even, / 100) agrees with Python's
    (on the exact decimal value) except where x 100 lands within rounding error of a half; those go to Python's."""
    scaled = values * 100.0
    rounded = np.round(scaled) / 100.0
    close = np.flatnonzero(np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) < 1e-6)
    result: list[float] = rounded.tolist()
    for k in close.tolist():
        result[k] = round(float(values[k]), 2)
    return result


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
    why: Why
    backtest: dict[str, Any] = field(default_factory=dict)


def score_in_child(history: History, today: int) -> Scored:
    """``predict.scoring.score_now``, named in a module the parent imports cheaply (functions pickle by name)."""
    from predict.scoring import score_now

    return score_now(history, today)
