"""Redis by URL: ``redis://`` / ``rediss://`` for production, ``memory://`` for an embedded stand-in."""

from __future__ import annotations

from typing import Any

import redis
import structlog
from redis.asyncio import ConnectionPool, Redis

__all__ = ["connect_redis"]

log = structlog.get_logger(__name__)


def connect_redis(
    url: str, *, max_connections: int = 1024, sentinels: list[tuple[str, int]] | None = None, master: str = ""
) -> Redis:
    """A client for ``url``, or for the primary the ``sentinels`` name for ``master``.

    ``memory://`` is fakeredis in this process: one process only, nothing kept. Behind Sentinel, each
    new connection asks the Sentinels for the primary, and a connection to a primary that died or was
    demoted (READONLY) is dropped: after a failover the next command reaches the new primary.
    """
    if sentinels:
        from redis.asyncio.sentinel import Sentinel

        sentinel = Sentinel(sentinels, socket_connect_timeout=1, socket_timeout=1)  # type: ignore[no-untyped-call]
        log.info("redis_sentinel", sentinels=len(sentinels), master=master)
        client: _SentinelManaged = sentinel.master_for(
            master, redis_class=_SentinelManaged, decode_responses=True, health_check_interval=30,
            socket_connect_timeout=3, socket_timeout=None, max_connections=max_connections, **_driver_info(),
        )
        client.sentinel_clients = list(sentinel.sentinels)
        return client
    if url.startswith("memory://"):
        import fakeredis  # only the embedded mode needs it

        log.warning("redis_embedded", detail="REDIS_URL=memory:// — in-process stand-in, single process, not durable")
        embedded: Redis = fakeredis.FakeAsyncRedis(decode_responses=True)
        return embedded
    # redis-py's default pool fails at once past 100 connections (MaxConnectionsError), which
    # ingest would turn into a false 503; a large pool keeps a burst queued on sockets instead.
    # No socket_timeout: redis-py implements it with a task per command (asyncio.wait_for), a
    # large share of the callback path's cost. Callers that must not hang bound their own waits
    # (ingest answers 503 after scrm_enqueue_timeout_s). Said explicitly: redis-py 6+ defaults to 5 s.
    pool = ConnectionPool.from_url(
        url, decode_responses=True, health_check_interval=30, socket_connect_timeout=3, socket_timeout=None,
        max_connections=max_connections, **_driver_info(),
    )
    return Redis.from_pool(pool)


class _SentinelManaged(Redis):
    """The primary's client; closing it also closes the connections to the Sentinels."""

    sentinel_clients: list[Redis]

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        for sentinel in getattr(self, "sentinel_clients", []):
            await sentinel.aclose()


def _driver_info() -> dict[str, Any]:
    """The client's name and version for CLIENT SETINFO, worked out once.

    Left to itself, redis-py reads its package metadata from disk for every new connection
    (~0.4 ms of blocking I/O in the event loop each time a burst grows the pool).
    """
    try:
        from redis.driver_info import DriverInfo  # redis-py 7.1+
    except ImportError:
        return {"lib_version": redis.__version__}
    return {"driver_info": DriverInfo(lib_version=redis.__version__)}
