"""An app clock that follows the simulator's, so one ``advance`` moves WeCom and the app together."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.simulator.clock import SimFollowingClock


class FollowSimClock(SimFollowingClock):
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
