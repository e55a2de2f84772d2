"""Tagging reacts to customer changes and runs its scheduled jobs, all through the queue."""

from __future__ import annotations

from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from tagging import service
from tagging.sync import push_pending, reconcile

router = Router("tagging")


@router.on("internal", "customer_changed")
async def on_customer_changed(event: Event, deps: Deps) -> None:
    await service.mark_dirty(deps, [int(event.body["customer_id"])])


@router.on("internal", "retag_dirty")
async def on_retag_dirty(event: Event, deps: Deps) -> None:
    await service.retag_dirty(deps)


@router.on("internal", "retag_all")
async def on_retag_all(event: Event, deps: Deps) -> None:
    await service.retag_everyone(deps)


@router.on("internal", "push_tags")
async def on_push_tags(event: Event, deps: Deps) -> None:
    await push_pending(deps)


@router.on("internal", "reconcile_tags")
async def on_reconcile_tags(event: Event, deps: Deps) -> None:
    await reconcile(deps)
    await push_pending(deps)
