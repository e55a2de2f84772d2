"""Limits count in fixed windows of real time (bot/wecom/budget.py, the sidebar's per-minute
limits): a test that spends one and counts what got through starts clear of the window's turn,
or the next window's fresh budget would let more through."""

from __future__ import annotations

import asyncio
import time

__all__ = ["clear_of_the_hours_turn", "clear_of_the_minutes_turn"]


async def _clear_of_the_turn(window_s: int, needed_s: float) -> None:
    left = window_s - time.time() % window_s
    if left < needed_s:
        await asyncio.sleep(left + 0.05)


async def clear_of_the_hours_turn(needed_s: float = 90.0) -> None:
    """Return once at least ``needed_s`` of this hour are left (waiting for the next hour if not)."""
    await _clear_of_the_turn(3600, needed_s)


async def clear_of_the_minutes_turn(needed_s: float = 20.0) -> None:
    """Return once at least ``needed_s`` of this minute are left (waiting for the next one if not)."""
    await _clear_of_the_turn(60, needed_s)
