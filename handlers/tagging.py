"""Tagging reacts to customer changes and runs its scheduled jobs, all through the queue."""

from __future__ import annotations

from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import cron, every
from customers.events import CustomerChanged
from tagging import service
from tagging.sync import push_pending, reconcile

router = Router("tagging")


@router.internal(CustomerChanged)
async def on_customer_changed(change: CustomerChanged, deps: Deps, key: str) -> None:
    await service.mark_dirty(deps, [change.customer_id])


@router.on("internal", "retag_dirty")
async def on_retag_dirty(event: Event, deps: Deps) -> None:
    await service.retag_dirty(deps)


RETAG_ALL = cron("retag_all", "scrm_retag_cron")


@router.on("internal", RETAG_ALL.name)
async def on_retag_all(event: Event, deps: Deps) -> None:
    await service.retag_everyone(deps)


PUSH_TAGS = every("push_tags", "scrm_push_tags_every_s")


@router.on("internal", PUSH_TAGS.name)
async def on_push_tags(event: Event, deps: Deps) -> None:
    await push_pending(deps)


RECONCILE_TAGS = cron("reconcile_tags", "scrm_reconcile_cron")


@router.on("internal", RECONCILE_TAGS.name)
async def on_reconcile_tags(event: Event, deps: Deps) -> None:
    await reconcile(deps)
    await push_pending(deps)
