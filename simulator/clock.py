"""The simulator's clock: real time plus an offset that tests move forward."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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

    def advance(self, delta: timedelta) -> None:
        self.sim_clock.advance(delta.total_seconds())

    def advance_to_local(self, hour: int, minute: int = 0, tz: str = "Asia/Shanghai") -> datetime:
        """Move forward to the next hh:mm in ``tz`` (at least a minute ahead)."""
        local = self.now().astimezone(ZoneInfo(tz))
        target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if target <= local + timedelta(minutes=1):
            target += timedelta(days=1)
        self.advance(target - local)
        return self.now()
