"""Scheduled ticks (APScheduler 3): each only *queues* an internal event; workers do the work.

Every worker process runs the same schedule, and the event key is the tick's scheduled slot
(minute for cron ticks, the interval's bucket otherwise), so however many processes fire a tick,
the queue keeps one event per slot and one worker does the job (with retries and dead letters).
A new periodic job is a ``cron(...)`` or ``every(...)`` declared beside the handler subscribed to
its name, plus one line in its feature's ``ticks`` (its package's __init__.py).
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
from bot.feature import attributes
from bot.publish import publish
from bot.registry import Registry
from bot.retention import trim
from config.settings import Settings

__all__ = ["Schedule", "Tick", "cron", "every", "ticks", "running_scheduler", "fire"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Tick:
    name: str  # the internal event it queues
    cron: str = ""  # crontab (minute hour day month weekday), in the configured time zone
    every_s: int = 0


@dataclass(frozen=True, slots=True)
class Schedule:
    """A tick as declared beside its handler (like arq's ``cron(...)``): the setting named holds
    its crontab or its interval, read when the scheduler starts."""

    name: str
    cron_setting: str = ""
    every_setting: str = ""

    def tick(self, settings: Settings) -> Tick:
        if self.every_setting:
            return Tick(self.name, every_s=int(getattr(settings, self.every_setting)))
        return Tick(self.name, cron=str(getattr(settings, self.cron_setting)))


def cron(name: str, setting: str) -> Schedule:
    """Queue the internal event ``name`` on the crontab in ``settings.<setting>``."""
    return Schedule(name, cron_setting=setting)


def every(name: str, setting: str) -> Schedule:
    """Queue the internal event ``name`` every ``settings.<setting>`` seconds."""
    return Schedule(name, every_setting=setting)


def ticks(settings: Settings) -> list[Tick]:
    """Every feature's ticks (their ``ticks`` slots); two with one name are refused (one job id each)."""
    schedules: Registry[Schedule] = Registry("scheduled tick", process_wide=False)
    for schedule in attributes("ticks"):
        schedules.add(schedule.name, schedule)
    return [schedule.tick(settings) for schedule in schedules.values()]


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
    # The engine's own upkeep runs here, not as an event: it has no feature and nothing to retry
    # (a missed slot is the next slot's work); a lease keeps it to one process.
    scheduler.add_job(trim, IntervalTrigger(seconds=deps.settings.scrm_retention_every_s), args=[deps],
                      id="retention", max_instances=1, coalesce=True, misfire_grace_time=300)
    scheduler.start()
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)
