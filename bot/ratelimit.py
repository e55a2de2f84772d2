"""A rate limit shared by every process: a per-second counter in Redis (one INCR per call)."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis

__all__ = ["SharedRateLimiter"]


class SharedRateLimiter:
    def __init__(self, redis: Redis, key: str, per_second: int) -> None:
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        self._redis = redis
        self._key = key
        self.per_second = per_second

    async def acquire(self) -> None:
        """Wait until this call fits in the current second's budget."""
        while True:
            now = time.time()
            second = int(now)
            key = f"{self._key}:{second}"
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, 2)
                count, _ = await pipe.execute()
            if int(count) <= self.per_second:
                return
            await asyncio.sleep(second + 1 - now + 0.001)
