"""Tagging reacts to customer changes and runs its scheduled jobs, all through the queue."""

from __future__ import annotations

from bot.commands import OPERATORS, Call, command, say, send_to_member
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.reload import refresh_config
from bot.scheduler import cron, every
from customers.events import CustomerChanged
from operators.jobs import RetagRequested, job_lease, start_once
from tagging import service
from tagging.service import retag_everyone
from tagging.sync import push_pending, reconcile

router = Router("tagging")


@command("标签规则", "rules", "tagrules", roles=OPERATORS, help="列出自动打标签规则")
async def rules(call: Call) -> str:
    await refresh_config(call.deps)
    ruleset = call.deps.config.tag_rules
    lines = [f"· {r.id}（{r.type_name}，{r.group}）：{r.description}" for r in ruleset.rules]
    return call.say("cmd_rules", count=len(ruleset.rules), lines="\n".join(lines))


@command("重算标签", "retag", roles=OPERATORS, help="后台重算全部客户标签，完成后通知")
async def retag(call: Call) -> str:
    return await start_once(call, RetagRequested, "cmd_retag_started", "重算标签")


@router.internal(RetagRequested)
async def on_retag_requested(request: RetagRequested, deps: Deps, key: str) -> None:
    async with job_lease(deps, request):
        await _retag(deps, request.userid, request.job)


async def _retag(deps: Deps, userid: str, job: str) -> None:
    run = await retag_everyone(deps, push=False)
    await send_to_member(deps, userid, say(deps, "cmd_retag_progress", job=job, pending=run.retag.pending_relations),
                         f"job:{job}:progress")
    sync = await push_pending(deps) if run.retag.pending_relations else None
    text = say(deps, "cmd_retag_done", job=job, desired=run.retag.desired,
               pending=sync.mark_tag_calls if sync else 0, seconds=round(run.retag.seconds, 1))
    await send_to_member(deps, userid, text, f"job:{job}:done")


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
