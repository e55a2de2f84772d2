"""The simulator's clock: real time plus an offset that tests move forward."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["SimClock", "SimFollowingClock"]


class SimClock:
    """``now()`` is ``time.time()`` plus an offset; ``advance()`` moves it (never backwards).

    Real time keeps flowing so latency and re-send timeouts behave, while tests can jump over
    token lifetimes (7200 s), welcome-code lifetimes (20 s) and card response codes (72 h).
    """

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        """Unix seconds on the simulator's clock."""
        return time.time() + self._offset

    def now_int(self) -> int:
        """Unix seconds, whole, as WeCom puts them in ``CreateTime`` and ``create_time``."""
        return int(self.now())

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the simulator clock only moves forward")
        self._offset += seconds


class SimFollowingClock:
    """An app clock (``bot.clock.Clock``) that reads the simulator's: the demo moves both at once."""

    def __init__(self, sim_clock: SimClock) -> None:
        self.sim_clock = sim_clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sim_clock.now(), UTC)

    def timestamp(self) -> float:
        return self.sim_clock.now()
