"""Reload tag_rules.yaml while running (``重载标签规则``), in every process.

The command checks the file and swaps the rules in its process, then records the file's digest in
Redis; any other process notices the new digest before its next re-tag and loads the same file.
A broken file changes nothing anywhere: the error names file, line and rule.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import structlog

from bot.deps import Deps
from tagging.config import RuleSet, load_rules

__all__ = ["reload_rules", "refresh_rules"]

log = structlog.get_logger(__name__)


def _load(path: Path) -> tuple[RuleSet, str]:
    """The rules and the digest of the file they came from (file reads: run in a thread)."""
    return load_rules(path), hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _key(deps: Deps) -> str:
    return f"{{{deps.settings.scrm_redis_prefix}}}:config:tag_rules:version"


async def reload_rules(deps: Deps) -> RuleSet:
    """Load the file (ConfigError if it is wrong), use it here, tell the other processes."""
    rules, digest = await asyncio.to_thread(_load, deps.settings.scrm_config_dir / "tag_rules.yaml")
    deps.config.tag_rules, deps.config.tag_rules_version = rules, digest
    await deps.redis.set(_key(deps), digest)
    log.info("tag_rules_reloaded", rules=len(rules.rules), version=digest)
    return rules


async def refresh_rules(deps: Deps) -> None:
    """Pick up rules another process reloaded (one GET when nothing changed)."""
    wanted = await deps.redis.get(_key(deps))
    if wanted is None:
        return
    wanted = wanted.decode() if isinstance(wanted, bytes) else str(wanted)
    if wanted != deps.config.tag_rules_version:
        await reload_rules(deps)
