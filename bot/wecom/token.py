"""The access token: cached in Redis for every process, refreshed single-flight.

``gettoken`` is rate limited, so 20 workers must not stampede it when the token expires: one
process takes a Redis lock and fetches; the others wait for the new token to appear. Inside a
process an asyncio lock does the same for its coroutines, and a local copy saves a Redis read
per API call.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable

import structlog
from redis.asyncio import Redis

__all__ = ["TokenStore", "TokenFetcher"]

log = structlog.get_logger(__name__)

# (token, expires_in seconds)
TokenFetcher = Callable[[], Awaitable[tuple[str, int]]]

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class TokenStore:
    def __init__(
        self,
        redis: Redis,
        key: str,
        fetch: TokenFetcher,
        *,
        margin_s: int = 300,
        lock_ttl_ms: int = 15_000,
        wait_poll_s: float = 0.05,
    ) -> None:
        self._redis = redis
        self._key = key
        self._lock_key = key + ":lock"
        self._fetch = fetch
        self._margin_s = margin_s
        self._lock_ttl_ms = lock_ttl_ms
        self._wait_poll_s = wait_poll_s
        self._local: tuple[str, float] | None = None  # (token, local expiry)
        self._local_lock = asyncio.Lock()
        self._release = redis.register_script(_RELEASE)
        self.fetch_count = 0

    async def get(self) -> str:
        local = self._local
        if local is not None and local[1] > time.monotonic():
            return local[0]
        async with self._local_lock:
            local = self._local
            if local is not None and local[1] > time.monotonic():
                return local[0]
            return await self._from_redis_or_fetch()

    async def shared(self) -> str:
        """The token every process shares now (Redis, not this process's copy), fetched if none."""
        return await self._read_cached() or await self.get()

    async def replace(self, stale: str) -> str:
        """A new token in place of ``stale``, fetched before ``stale`` is dropped: if the fetch
        fails (raises), ``stale`` stays in use. Single-flight: a process that finds another one
        renewing waits for its result."""
        owner = secrets.token_hex(8)
        deadline = time.monotonic() + self._lock_ttl_ms / 1000
        while not await self._redis.set(self._lock_key, owner, nx=True, px=self._lock_ttl_ms):
            if time.monotonic() > deadline:
                return await self.shared()
            await asyncio.sleep(self._wait_poll_s)
        try:
            cached = await self._read_cached()
            if cached and cached != stale:
                return cached  # renewed meanwhile by another process
            return await self._fetch_and_store()
        finally:
            await self._release(keys=[self._lock_key], args=[owner])

    async def invalidate(self, token: str) -> None:
        """Forget ``token`` (WeCom refused it). Compare-and-delete so we never drop a newer token."""
        if self._local is not None and self._local[0] == token:
            self._local = None
        await self._release(keys=[self._key], args=[token])

    async def _from_redis_or_fetch(self) -> str:
        deadline = time.monotonic() + self._lock_ttl_ms / 1000 * 2
        while True:
            cached = await self._read_cached()
            if cached:
                return cached
            owner = secrets.token_hex(8)
            if await self._redis.set(self._lock_key, owner, nx=True, px=self._lock_ttl_ms):
                try:
                    # Re-check: another process may have stored a token between our read and the lock.
                    cached = await self._read_cached()
                    if cached:
                        return cached
                    return await self._fetch_and_store()
                finally:
                    await self._release(keys=[self._lock_key], args=[owner])
            if time.monotonic() > deadline:
                # The lock holder is stuck or dead beyond the lock TTL: fetch ourselves.
                return await self._fetch_and_store()
            await asyncio.sleep(self._wait_poll_s)

    async def _read_cached(self) -> str | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._key)
            pipe.ttl(self._key)
            value, ttl = await pipe.execute()
        if not value:
            return None
        token = value.decode() if isinstance(value, bytes) else str(value)
        self._remember(token, int(ttl))
        return token

    async def _fetch_and_store(self) -> str:
        token, expires_in = await self._fetch()
        self.fetch_count += 1
        ttl = max(1, expires_in - self._margin_s) if expires_in > self._margin_s * 2 else max(1, expires_in // 2)
        await self._redis.set(self._key, token, ex=ttl)
        self._remember(token, ttl)
        log.info("wecom_token_refreshed", expires_in=expires_in)
        return token

    def _remember(self, token: str, ttl_s: int) -> None:
        if ttl_s > 0:
            self._local = (token, time.monotonic() + ttl_s)
