"""Operators' background jobs (asked for by chat command), hand-over results and the leaderboards."""

from __future__ import annotations

from datetime import UTC, datetime

from boards.delivery import deliver_boards
from bot.commands import say, send_to_member
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.lease import release
from bot.scheduler import cron, every
from customers import handover
from customers.backfill import backfill_contacts
from tagging.service import retag_everyone
from tagging.sync import push_pending

router = Router("operators")

# A full re-tag or customer sync runs once at a time across processes: the command claims the
# lease with its job id, the job releases it when done. A crashed worker frees it after this.
JOB_LEASE_S = 2 * 3600


def job_lease_key(deps: Deps, kind: str) -> str:
    return f"{{{deps.settings.scrm_redis_prefix}}}:lease:job:{kind}"


@router.on("internal", "retag_requested")
async def on_retag_requested(event: Event, deps: Deps) -> None:
    userid, job = event.get("userid"), event.get("job")
    try:
        await _retag(deps, userid, job)
    finally:
        await release(deps.redis, job_lease_key(deps, "retag"), job)


async def _retag(deps: Deps, userid: str, job: str) -> None:
    run = await retag_everyone(deps, push=False)
    await send_to_member(deps, userid, say(deps, "cmd_retag_progress", job=job, pending=run.retag.pending_relations),
                         f"job:{job}:progress")
    sync = await push_pending(deps) if run.retag.pending_relations else None
    text = say(deps, "cmd_retag_done", job=job, desired=run.retag.desired,
               pending=sync.mark_tag_calls if sync else 0, seconds=round(run.retag.seconds, 1))
    await send_to_member(deps, userid, text, f"job:{job}:done")


@router.on("internal", "backfill_requested")
async def on_backfill_requested(event: Event, deps: Deps) -> None:
    try:
        result = await backfill_contacts(deps)
    finally:
        await release(deps.redis, job_lease_key(deps, "sync"), event.get("job"))
    text = say(deps, "cmd_sync_done", job=event.get("job"), members=result.members, contacts=result.contacts)
    await send_to_member(deps, event.get("userid"), text, f"job:{event.get('job')}:done")


HANDOVER_CHECK = every("handover_check", "scrm_handover_check_every_s")


@router.on("internal", HANDOVER_CHECK.name)
async def on_handover_check(event: Event, deps: Deps) -> None:
    for report in await handover.check_handovers(deps):
        if report.done and report.requested_by:
            await send_to_member(deps, report.requested_by, handover_text(deps, report, "cmd_handover_done"),
                                 f"handover:{report.handover_id}:done")


@router.event("change_external_contact", "transfer_fail")
async def on_transfer_fail(event: Event, deps: Deps) -> None:
    await handover.transfer_failed(event.get("UserID"), event.get("ExternalUserID"), event.get("FailReason"))


def handover_text(deps: Deps, report: handover.HandoverReport, template_id: str) -> str:
    reasons = "、".join(f"{_REASONS.get(r, r)} {n}" for r, n in report.reasons.items())
    records = "".join(f"\n{label}已转给接手导购：{n}" for label, n in report.moved_records.items())
    return say(deps, template_id, giver=report.handover_userid, taker=report.takeover_userid, moved=report.moved,
               waiting=report.waiting, failed=report.failed, detail=f"（{reasons}）" if reasons else "",
               records=records)


_REASONS = {"customer_refused": "客户拒绝", "customer_limit_exceed": "接手导购客户已满"}


def _at(event: Event) -> datetime:
    return datetime.fromtimestamp(event.received_at, UTC)


BOARD_DAILY = cron("board_daily", "scrm_board_daily_cron")


@router.on("internal", BOARD_DAILY.name)
async def on_board_daily(event: Event, deps: Deps) -> None:
    await deliver_boards(deps, "daily", _at(event))


BOARD_WEEKLY = cron("board_weekly", "scrm_board_weekly_cron")


@router.on("internal", BOARD_WEEKLY.name)
async def on_board_weekly(event: Event, deps: Deps) -> None:
    await deliver_boards(deps, "weekly", _at(event))


BOARD_MONTHLY = cron("board_monthly", "scrm_board_monthly_cron")


@router.on("internal", BOARD_MONTHLY.name)
async def on_board_monthly(event: Event, deps: Deps) -> None:
    await deliver_boards(deps, "monthly", _at(event))
