"""A long week, then a long year: what the engine records is trimmed by age, and nothing is sent twice."""

from __future__ import annotations

from typing import Any

import pytest

from bot.models.eventlog import EventLog
from bot.models.outbox import Outbox
from bot.retention import Trimmed, trim
from simulator.clock import SimFollowingClock
from tests.conftest import Stack
from tests.test_customers import seed_store_sh01


@pytest.fixture
def app_clock(sim: Any) -> SimFollowingClock:
    return SimFollowingClock(sim.state.clock)


async def test_old_records_are_trimmed_by_age_and_a_welcome_is_still_sent_once(stack: Stack) -> None:
    seed_store_sh01(stack)
    first = stack.state.customer_scans_qr("guide_sh01_a", "wmOLD001", state="store_sh01")
    await stack.deliver(first)
    await stack.settle()
    assert await EventLog.all().count() >= 1
    assert await Outbox.filter(kind="welcome", status="sent").count() == 1
    # A message still being sent (claimed, or waiting) is never trimmed, however old.
    await Outbox.create(key="pending:old", kind="test", recipient="guide_sh01_a", status="pending")
    await stack.deps.queue.redis.xadd(stack.deps.queue.keys.dead, {"error": "old failure"})

    stack.state.clock.advance(10 * 86400)  # within every retention: nothing goes
    assert await trim(stack.deps) == Trimmed(event_log=0, outbox=0, command_audit=0, dead_letters=0)
    assert await EventLog.all().count() >= 1 and await Outbox.filter(kind="welcome").count() == 1

    stack.state.clock.advance(100 * 86400)  # past the event log's 30 days and the outbox's 90
    trimmed = await trim(stack.deps)
    assert trimmed is not None
    assert trimmed.event_log >= 1 and trimmed.outbox == 1 and trimmed.dead_letters == 1
    assert await EventLog.all().count() == 0
    assert await Outbox.filter(kind="welcome").count() == 0
    assert await Outbox.filter(key="pending:old").exists()
    assert await stack.deps.queue.redis.xlen(stack.deps.queue.keys.dead) == 0

    # Life goes on: a new customer is recorded and welcomed once.
    second = stack.state.customer_scans_qr("guide_sh01_a", "wmNEW001", state="store_sh01")
    await stack.deliver(second)
    await stack.deliver(second)
    await stack.settle()
    assert len(stack.state.welcome_messages) == 2


async def test_only_one_process_trims_at_a_time(stack: Stack) -> None:
    await stack.deps.redis.set(f"{stack.deps.settings.scrm_redis_prefix}:retention", "another", px=5000)
    assert await trim(stack.deps) is None
