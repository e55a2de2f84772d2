"""Redis by URL: ``redis://`` / ``rediss://`` for production, ``memory://`` for an embedded stand-in."""

from __future__ import annotations

import structlog
from redis.asyncio import Redis

__all__ = ["connect_redis"]

log = structlog.get_logger(__name__)


def connect_redis(url: str) -> Redis:
    """A client for ``url``. ``memory://`` is fakeredis in this process: one process only, nothing kept."""
    if url.startswith("memory://"):
        import fakeredis  # noqa: PLC0415 - only the embedded mode needs it

        log.warning("redis_embedded", detail="REDIS_URL=memory:// — in-process stand-in, single process, not durable")
        client: Redis = fakeredis.FakeAsyncRedis(decode_responses=True)
        return client
    return Redis.from_url(
        url, decode_responses=True, health_check_interval=30, socket_timeout=5, socket_connect_timeout=3
    )
