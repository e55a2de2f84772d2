"""The library in use by this process, reloaded when an operator's ``重载话术库`` published a new one.

The chat command checks the file and stores its digest in Redis; each web process looks at that
digest at most every ``check_every_s`` and re-reads the file when it changed. A file that no
longer loads (edited again after the command) is logged and the running library stays.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import structlog
from redis.asyncio import Redis

from bot.configfiles import ConfigError
from sidebar import config as sidebar_config
from sidebar.config import Library

__all__ = ["LibraryStore", "library_version_key", "publish_library"]

log = structlog.get_logger(__name__)


def library_version_key(prefix: str) -> str:
    return f"{{{prefix}}}:sidebar:library:digest"


async def publish_library(redis: Redis, prefix: str, config_dir: Path) -> Library:
    """Check the file (raises ConfigError naming the item) and tell every process to use it."""
    library = await asyncio.to_thread(sidebar_config.load, config_dir)
    await redis.set(library_version_key(prefix), library.digest)
    return library


class LibraryStore:
    def __init__(self, library: Library, config_dir: Path, redis: Redis, prefix: str, check_every_s: float = 5.0):
        self._library = library
        self._config_dir = config_dir
        self._redis = redis
        self._key = library_version_key(prefix)
        self._check_every_s = check_every_s
        self._checked_at = time.monotonic()
        self._lock = asyncio.Lock()

    async def current(self) -> Library:
        if time.monotonic() - self._checked_at < self._check_every_s:
            return self._library
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._check_every_s:
                self._checked_at = time.monotonic()
                await self._maybe_reload()
        return self._library

    async def _maybe_reload(self) -> None:
        wanted = await self._redis.get(self._key)
        if wanted is None:
            return
        digest = wanted.decode() if isinstance(wanted, bytes) else str(wanted)
        if digest == self._library.digest:
            return
        try:
            library = await asyncio.to_thread(sidebar_config.load, self._config_dir)
        except ConfigError as err:
            log.error("sidebar_library_reload_failed", error=str(err))
            return
        self._library = library
        log.info("sidebar_library_reloaded", digest=library.digest, items=len(library.items))
