"""One reload story for every config file: all of them together, all or nothing, in every process.

Each process (web and worker alike) looks at the config files' sizes and mtimes every
``CHECK_EVERY_S`` and, when one changed, loads every feature's config again (bot/appconfig.py, in
the order of bot/features.py) and swaps the whole ``AppConfig`` in place. The chat command 重载配置
(handlers/operators.py) forces a reload and records the loaded version in Redis, so a process that
did not see the files change (another host mounting the folder, a clock skew) loads them too.
A broken file changes nothing anywhere: every process keeps the running config, the error (file and
line) is logged once and 重载配置 replies with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from redis.exceptions import RedisError

from bot.appconfig import AppConfig, config_signature, load_app_config
from bot.configfiles import ConfigError
from bot.deps import Deps
from bot.periodic import repeating

__all__ = ["CHECK_EVERY_S", "Reloaded", "reload_config", "refresh_config", "watching_config"]

CHECK_EVERY_S = 2.0
log = structlog.get_logger(__name__)


class Reloaded:
    """What 重载配置 loaded: how many files, and which changed since the last 重载配置 (or the start;
    the files the checks reloaded in between included, so the operator sees every edit)."""

    def __init__(self, before: dict[str, str], after: AppConfig) -> None:
        self.files = len(after.loaded.digests)
        self.changed = sorted(name for name, digest in after.loaded.digests.items() if before.get(name) != digest)
        self.changed += sorted(set(before) - set(after.loaded.digests))


def _key(deps: Deps) -> str:
    return f"{{{deps.settings.scrm_redis_prefix}}}:config:version"


async def _load_and_swap(deps: Deps) -> None:
    """Load every file (ConfigError if one is wrong, nothing changed then) and use them here."""
    fresh = await asyncio.to_thread(load_app_config, deps.settings.scrm_config_dir)
    before = deps.config.loaded.digests
    deps.config.replace_with(fresh)
    log.info("config_reloaded", version=fresh.loaded.version,
             changed=Reloaded(before, fresh).changed)


async def reload_config(deps: Deps) -> Reloaded:
    """Load every config file now, use them here and tell the other processes (重载配置)."""
    watch = deps.config.watch
    async with watch.lock:
        await _load_and_swap(deps)
        reloaded = Reloaded(watch.announced, deps.config)
        watch.failed, watch.announced = (), deps.config.loaded.digests
        await deps.redis.set(_key(deps), deps.config.loaded.version)
        watch.remote = deps.config.loaded.version
    return reloaded


async def refresh_config(deps: Deps) -> bool:
    """Reload if a file changed here or another process reloaded (a few stats and one GET when not).

    A broken file is logged once and the running config stays; True when a new config is in use."""
    watch = deps.config.watch
    signature = await asyncio.to_thread(config_signature, deps.settings.scrm_config_dir)
    value = await deps.redis.get(_key(deps))
    remote = value.decode() if isinstance(value, bytes) else value
    told = remote is not None and remote not in (watch.remote, deps.config.loaded.version)
    if signature in (deps.config.loaded.signature, watch.failed) and not told:
        return False
    async with watch.lock:  # one reload at a time; whoever waited finds it done
        if told:
            watch.remote = remote
        elif signature == deps.config.loaded.signature:
            return False
        try:
            await _load_and_swap(deps)
        except ConfigError as err:
            if watch.failed != signature:
                log.error("config_reload_failed", error=str(err))
            watch.failed = signature
            return False
        watch.failed = ()
        return True


@asynccontextmanager
async def watching_config(deps: Deps, every_s: float = CHECK_EVERY_S) -> AsyncIterator[None]:
    """Check the files every ``every_s`` while the block runs (one per process: app.py)."""

    def failed(err: Exception) -> None:
        if isinstance(err, RedisError | OSError):  # Redis down or the folder unmounted: next round
            log.warning("config_check_failed", error=repr(err))
        else:
            log.exception("config_check_crashed")

    async with repeating(every_s, lambda: refresh_config(deps), failed, name="config-watch"):
        yield
