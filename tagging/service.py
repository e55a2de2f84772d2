"""Tagging as the rest of the product calls it: re-tag some or all customers and sync WeCom."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from bot.deps import Deps
from bot.progress import Progress
from tagging.config import TAG_RULES
from tagging.delivery import SyncResult, ensure_rule_tags, push_pending, reconcile
from tagging.engine import MissingTags, RetagResult, retag
from tagging.events import retag_dirty_queued

__all__ = ["retag_customers", "retag_everyone", "RetagRun", "mark_dirty", "retag_dirty", "reconcile_tags"]

DIRTY_BATCH = 5000

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RetagRun:
    retag: RetagResult
    sync: SyncResult | None


async def _retag(deps: Deps, customer_ids: Sequence[int] | None, progress: Progress | None) -> RetagResult:
    rules = deps.config[TAG_RULES]
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
    await ensure_rule_tags(deps, deps.config[TAG_RULES])
    result = await _retag(deps, None, Progress("re-tag", enabled=progress))
    sync = None
    if push and result.pending_relations:
        sync = await push_pending(deps, progress=Progress("mark_tag", result.pending_relations, enabled=progress))
    return RetagRun(result, sync)


def _dirty_keys(deps: Deps) -> tuple[str, str]:
    prefix = deps.settings.scrm_redis_prefix
    return f"{{{prefix}}}:tagging:dirty", f"{{{prefix}}}:tagging:dirty:scheduled"


async def mark_dirty(deps: Deps, customer_ids: Sequence[int]) -> None:
    """Note customers to re-tag; at most one RetagDirty job is queued at a time.

    Re-tagging is set-based, so a burst of changes (500 scans at once) costs a few engine runs,
    not one each — and the welcome messages in the same burst are not kept waiting.
    """
    dirty, scheduled = _dirty_keys(deps)
    async with deps.redis.pipeline(transaction=False) as pipe:
        pipe.sadd(dirty, *customer_ids)
        pipe.set(scheduled, "1", nx=True, ex=60)
        _added, first = await pipe.execute()
    if first:
        await retag_dirty_queued(deps)


# Ends the job only when nothing is left, atomically with clearing the flag: a customer marked
# after this ran sets the flag again and queues the next job; one marked before is still seen.
_FINISH = """
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) return 0 end
redis.call('EXPIRE', KEYS[2], 60)
return 1
"""


async def retag_dirty(deps: Deps) -> int:
    """Re-tag every customer marked dirty, in batches; return how many. One such job at a time."""
    dirty, scheduled = _dirty_keys(deps)
    finish = deps.redis.register_script(_FINISH)
    done = 0
    while True:
        members = await deps.redis.srandmember(dirty, DIRTY_BATCH)
        if members:
            ids = sorted({int(m) for m in members})
            await retag_customers(deps, ids)
            await deps.redis.srem(dirty, *members)  # only after success: a crash leaves them marked
            done += len(ids)
        if not await finish(keys=[dirty, scheduled]):
            return done


async def reconcile_tags(deps: Deps) -> SyncResult:
    """The nightly repair: read what WeCom has, then push what differs from ours."""
    await reconcile(deps)
    return await push_pending(deps)
