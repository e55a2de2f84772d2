"""Tagging as the rest of the product calls it: re-tag some or all customers and sync WeCom."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from bot.deps import Deps
from bot.progress import Progress
from tagging.engine import MissingTags, RetagResult, retag
from tagging.sync import SyncResult, ensure_rule_tags, push_pending

__all__ = ["retag_customers", "retag_everyone", "RetagRun"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RetagRun:
    retag: RetagResult
    sync: SyncResult | None


async def _retag(deps: Deps, customer_ids: Sequence[int] | None, progress: Progress | None) -> RetagResult:
    rules = deps.config.tag_rules
    try:
        return await retag(rules, now=deps.clock.now(), customer_ids=customer_ids, progress=progress)
    except MissingTags:
        # First run, or someone deleted a rule tag in WeCom: create what is missing, then go on.
        await ensure_rule_tags(deps, rules)
        return await retag(rules, now=deps.clock.now(), customer_ids=customer_ids, progress=progress)


async def retag_customers(deps: Deps, customer_ids: Sequence[int]) -> RetagRun:
    """After an event: re-evaluate these customers and push their differences to WeCom now."""
    result = await _retag(deps, customer_ids, None)
    sync = await push_pending(deps, customer_ids=customer_ids) if result.pending_relations else None
    return RetagRun(result, sync)


async def retag_everyone(deps: Deps, *, push: bool = True, progress: bool = False) -> RetagRun:
    """The full re-tag (nightly, ``scrm tags retag``): set-based over every customer, then the push."""
    await ensure_rule_tags(deps, deps.config.tag_rules)
    result = await _retag(deps, None, Progress("re-tag", enabled=progress))
    sync = None
    if push and result.pending_relations:
        sync = await push_pending(deps, progress=Progress("mark_tag", result.pending_relations, enabled=progress))
    return RetagRun(result, sync)
