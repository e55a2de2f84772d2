"""A rate limit shared by every process: a counter per time window in Redis (one INCR per call)."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

__all__ = ["SharedRateLimiter", "count_in_window"]


class SharedRateLimiter:
    """At most ``per_second`` calls per ``window_s``-second window (default one second), across processes.

    A group robot takes 20 messages a minute: ``SharedRateLimiter(redis, key, 20, window_s=60)``.
    """

    def __init__(self, redis: Redis, key: str, per_second: int, *, window_s: int = 1) -> None:
        if per_second < 1 or window_s < 1:
            raise ValueError("the limit and the window must be at least 1")
        self._redis = redis
        self._key = key
        self.per_second = per_second
        self.window_s = window_s

    async def try_acquire(self) -> float:
        """Take one call from this window's budget: 0.0 if it fits, else the seconds until the next window."""
        now = time.time()
        window = int(now // self.window_s)
        key = f"{self._key}:{window}"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.window_s + 1)
            count, _ = await pipe.execute()
        if int(count) <= self.per_second:
            return 0.0
        return (window + 1) * self.window_s - now + 0.001

    async def acquire(self) -> None:
        """Wait until this call fits in the current window's budget."""
        wait = await self.try_acquire()
        while wait > 0:
            await asyncio.sleep(wait)
            wait = await self.try_acquire()


async def count_in_window(redis: Redis, key: str, window_s: int, now: float) -> int:
    """Count one more call in ``key``'s current ``window_s``-second window; the count so far.

    One small key per (key, window), gone two windows later: a flood adds one counter, not one
    key per request."""
    window = int(now // window_s)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.incr(f"{key}:{window}")
        pipe.expire(f"{key}:{window}", window_s * 2)
        count, _ = await pipe.execute()
    return int(count)
