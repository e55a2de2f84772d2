"""Scheduled ticks (APScheduler 3): each only *queues* an internal event; workers do the work.

Every worker process runs the same schedule, and the event key is the tick's scheduled slot
(minute for cron ticks, the interval's bucket otherwise), so however many processes fire a tick,
the queue keeps one event per slot and one worker does the job (with retries and dead letters).
A new periodic job is one entry in ``ticks()`` and one handler subscribed to its name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.deps import Deps
from bot.publish import publish
from config.settings import Settings

__all__ = ["Tick", "ticks", "running_scheduler", "fire"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Tick:
    name: str  # the internal event it queues
    cron: str = ""  # crontab (minute hour day month weekday), in the configured time zone
    every_s: int = 0


def ticks(settings: Settings) -> list[Tick]:
    return [
        Tick("retag_all", cron=settings.scrm_retag_cron),
        Tick("reconcile_tags", cron=settings.scrm_reconcile_cron),
        Tick("push_tags", every_s=settings.scrm_push_tags_every_s),
        Tick("leads_sweep", every_s=settings.scrm_leads_sweep_every_s),
        Tick("leads_flush", every_s=settings.scrm_leads_flush_every_s),
        Tick("board_daily", cron=settings.scrm_board_daily_cron),
        Tick("board_weekly", cron=settings.scrm_board_weekly_cron),
        Tick("board_monthly", cron=settings.scrm_board_monthly_cron),
        Tick("handover_check", every_s=settings.scrm_handover_check_every_s),
        Tick("sop_tick", cron=settings.scrm_sop_tick_cron),
        Tick("sop_digest", cron=settings.scrm_sop_digest_cron),
        Tick("sop_reminder", cron=settings.scrm_sop_reminder_cron),
        Tick("sop_escalation", cron=settings.scrm_sop_escalation_cron),
        Tick("org_sync", cron=settings.scrm_org_sync_cron),
        Tick("predict_nightly", cron=settings.scrm_predict_cron),
    ]


def slot_key(tick: Tick, now: float) -> str:
    if tick.every_s:
        return str(int(now // tick.every_s))
    return str(int(now // 60))


async def fire(deps: Deps, tick: Tick) -> bool:
    queued = await publish(deps, tick.name, {}, slot_key(tick, deps.clock.timestamp()))
    log.info("tick", name=tick.name, queued=queued)
    return queued


@asynccontextmanager
async def running_scheduler(deps: Deps) -> AsyncIterator[AsyncIOScheduler]:
    scheduler = AsyncIOScheduler(timezone=deps.settings.scrm_timezone)
    for tick in ticks(deps.settings):
        trigger = (
            IntervalTrigger(seconds=tick.every_s)
            if tick.every_s
            else CronTrigger.from_crontab(tick.cron, timezone=deps.settings.scrm_timezone)
        )
        scheduler.add_job(fire, trigger, args=[deps, tick], id=tick.name, max_instances=1, coalesce=True,
                          misfire_grace_time=300)
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)
