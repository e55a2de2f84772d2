"""Scheduled jobs run once per slot however many processes fire them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bot.app import open_deps
from bot.scheduler import Tick, fire, running_scheduler, ticks
from config.settings import Settings
from tests.conftest import BACKEND


@pytest.mark.skipif(BACKEND == "embedded", reason="processes share the queue only through a real Redis")
async def test_two_processes_firing_the_same_tick_queue_one_job(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    async with open_deps(settings) as first, open_deps(settings) as second:
        tick = Tick("retag_all", cron="0 2 * * *")
        results = await asyncio.gather(fire(first, tick), fire(second, tick))
        assert sorted(results) == [False, True]
        entries: Any = await first.redis.xrange(first.queue.keys.later)  # a job is an internal event
        assert len(entries) == 1 and not await first.redis.xlen(first.queue.keys.stream)


async def test_scheduler_registers_every_tick(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(scrm_retag_cron="30 1 * * *")
    async with open_deps(settings) as deps, running_scheduler(deps) as scheduler:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {t.name for t in ticks(settings)} | {"retention"}  # the engine's own upkeep
        fire_at = jobs["retag_all"].next_run_time
        assert (fire_at.hour, fire_at.minute) == (1, 30) and str(fire_at.tzinfo) == "Asia/Shanghai"
