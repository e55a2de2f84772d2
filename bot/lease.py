"""A lease in Redis: of several processes, one does a piece of work at a time.

``async with lease(redis, key, ttl_s) as held`` tries once; with ``wait_s`` it waits that long for
the holder to finish. The lease expires after ``ttl_s`` (a crashed holder frees it), and is
released only by its holder (compare-and-delete in one script).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from bot.errors import RetryLater

__all__ = ["lease", "exclusive", "claim", "release"]

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


@asynccontextmanager
async def lease(redis: Redis, key: str, ttl_s: float, *, wait_s: float = 0.0) -> AsyncIterator[bool]:
    """Yield True when this process holds ``key`` (for at most ``ttl_s``), False when another does."""
    token = secrets.token_hex(8)
    deadline = time.monotonic() + wait_s
    while not (held := bool(await redis.set(key, token, nx=True, px=int(ttl_s * 1000)))):
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.02)
    try:
        yield held
    finally:
        if held:
            await redis.eval(_RELEASE, 1, key, token)


@asynccontextmanager
async def exclusive(
    redis: Redis, key: str, ttl_s: float, busy: str, *, wait_s: float = 0.0, defer_s: float = 1.0
) -> AsyncIterator[None]:
    """Work that must not run beside another holder of ``key`` (a guide's card budget, the channel
    codes' writer): ``lease``, raising ``RetryLater(busy, defer_s)`` when another process kept it for
    ``wait_s`` (the worker runs the event again then, without spending an attempt)."""
    async with lease(redis, key, ttl_s, wait_s=wait_s) as held:
        if not held:
            raise RetryLater(busy, defer_s)
        yield


async def claim(redis: Redis, key: str, ttl_s: float, token: str) -> str | None:
    """A lease that outlives one coroutine (a chat command claims, the worker's job releases):
    None when ``token`` now holds ``key``, else the token of whoever holds it."""
    if await redis.set(key, token, nx=True, px=int(ttl_s * 1000)):
        return None
    holder = await redis.get(key)
    if holder is None:  # released between the two calls: try once more
        return None if await redis.set(key, token, nx=True, px=int(ttl_s * 1000)) else "?"
    return holder.decode() if isinstance(holder, bytes) else str(holder)


async def release(redis: Redis, key: str, token: str) -> None:
    """Let go of a claim, only if ``token`` still holds it."""
    await redis.eval(_RELEASE, 1, key, token)
