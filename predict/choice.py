"""Which method ranks a brand's customers: the best on its own back-test, or the simplest one as good.

1. The best is the method with the highest AUC.
2. The candidates are the best and every method whose paired difference from it has a 95% interval
   reaching zero (DeLong, ``predict/intervals.py``): on this history they cannot be told apart.
3. The simplest candidate wins (``SIMPLICITY``); a learned method (the model, the stacked ensemble)
   only when its advantage over every simpler rule (and BG/NBD) has an interval above zero. The best
   always qualifies (a simpler method it does not clearly beat is a candidate, met first), so a method
   whose interval lies below the best's is never chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from predict.intervals import AucIntervals

__all__ = ["SIMPLICITY", "LEARNED", "Choice", "choose"]

# Simplest first, by how much each needs and how well a person can follow it: recency (one date),
# lifecycle (recency and the own purchase cycle against two fixed thresholds), RFM (three quintiles),
# BG/NBD (four fitted parameters), the model (300 trees), the ensemble (the model on everyone's outputs).
SIMPLICITY = ("recency", "lifecycle", "rfm", "bgnbd", "model", "ensemble")
LEARNED = frozenset({"model", "ensemble"})


@dataclass(frozen=True, slots=True)
class Choice:
    chosen: str
    best: str
    reason: str  # English, for HQ's report and the JSON; guides never read it


def choose(intervals: AucIntervals) -> Choice:
    names = [name for name in SIMPLICITY if name in intervals.names]
    aucs = {name: float(intervals.auc[intervals.names.index(name)]) for name in names}
    known = [name for name in names if not math.isnan(aucs[name])]
    if not known:
        return Choice("rfm", "rfm", "no method could be scored on this history; RFM ranks by default")
    best = max(known, key=lambda name: (aucs[name], -names.index(name)))
    tied = [name for name in known if name == best or intervals.difference(best, name)[1] <= 0]
    for name in tied:  # simplest first
        simpler = known[: known.index(name)]
        if name in LEARNED:
            losers = [other for other in simpler if other not in LEARNED and intervals.difference(name, other)[1] <= 0]
            if losers:
                continue
        if name == best:
            why = f"{best} has the best AUC ({aucs[best]:.3f})"
            if name in LEARNED:
                why += " and its advantage over every simpler method has a 95% interval above zero"
            else:
                why += "; no simpler method is within its 95% interval"
        else:
            low, high = intervals.difference(best, name)[1:]
            why = (f"{best} has the best AUC ({aucs[best]:.3f}) but {name} ({aucs[name]:.3f}) is within its 95% "
                   f"interval (difference [{low:+.3f}, {high:+.3f}]) and simpler")
        return Choice(name, best, why)
    raise AssertionError("the best method always qualifies")  # pragma: no cover
