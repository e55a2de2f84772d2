"""A lease in Redis: of several engines, one sweeps at a time (the unique key catches the rest)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

__all__ = ["lease"]


@asynccontextmanager
async def lease(redis: Redis, key: str, ttl_s: int) -> AsyncIterator[bool]:
    """Yield True when this process holds ``key`` (for at most ``ttl_s``), False when another does."""
    token = secrets.token_hex(8)
    held = bool(await redis.set(key, token, nx=True, ex=ttl_s))
    try:
        yield held
    finally:
        if held and await redis.get(key) == token:
            await redis.delete(key)
