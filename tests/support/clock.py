"""An app clock that follows the simulator's, so one ``advance`` moves WeCom and the app together."""

from __future__ import annotations

from bot.simulator.clock import SimFollowingClock as FollowSimClock

__all__ = ["FollowSimClock"]
