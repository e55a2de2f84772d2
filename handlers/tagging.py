"""Tagging: its chat commands, the re-tag a customer's change asks for, and its scheduled jobs —
thin adapters to tagging/ (service, delivery, chat), all through the queue."""

from __future__ import annotations

from bot.commands import Call
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.reload import refresh_config
from bot.scheduler import cron, every
from customers.events import CustomerChanged
from operators.jobs import RetagRequested, job_lease, start_once
from operators.roles import OPERATORS
from tagging import chat, service
from tagging.delivery import push_pending
from tagging.events import RetagDirty

router = Router("tagging")


@router.command("标签规则", "rules", "tagrules", roles=OPERATORS, help="列出自动打标签规则")
async def rules(call: Call) -> str:
    await refresh_config(call.deps)
    return chat.rules_reply(call.deps)


@router.command("重算标签", "retag", roles=OPERATORS, help="后台重算全部客户标签，完成后通知")
async def retag(call: Call) -> str:
    return await start_once(call, RetagRequested, "cmd_retag_started", "重算标签")


@router.internal(RetagRequested)
async def on_retag_requested(request: RetagRequested, deps: Deps, key: str) -> None:
    async with job_lease(deps, request):
        await chat.retag_job(deps, request.userid, request.job)


@router.internal(CustomerChanged)
async def on_customer_changed(change: CustomerChanged, deps: Deps, key: str) -> None:
    await service.mark_dirty(deps, [change.customer_id])


@router.internal(RetagDirty)
async def on_retag_dirty(dirty: RetagDirty, deps: Deps, key: str) -> None:
    await service.retag_dirty(deps)


RETAG_ALL = cron("retag_all", "scrm_retag_cron")


@router.tick(RETAG_ALL)
async def on_retag_all(event: Event, deps: Deps) -> None:
    await service.retag_everyone(deps)


PUSH_TAGS = every("push_tags", "scrm_push_tags_every_s")


@router.tick(PUSH_TAGS)
async def on_push_tags(event: Event, deps: Deps) -> None:
    await push_pending(deps)


RECONCILE_TAGS = cron("reconcile_tags", "scrm_reconcile_cron")


@router.tick(RECONCILE_TAGS)
async def on_reconcile_tags(event: Event, deps: Deps) -> None:
    await service.reconcile_tags(deps)
