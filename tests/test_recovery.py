"""Faults cost seconds, never a customer: a killed worker, a lost database, a dead sender's claim.

Each story is one of the failures seen on the production shape (issue 15): the test makes it happen
for real (SIGKILL, a cut connection, a claim left behind) and checks what a brand would notice —
the customer welcomed once, the relation recorded, nothing dead-lettered, and how long it took.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest

from bot.app import build_worker, create_app
from bot.crypto import CallbackCrypto
from bot.deps import Deps
from bot.dispatch import Dispatcher, Router
from bot.events import Event
from bot.models.eventlog import EventLog
from bot.models.outbox import Outbox
from bot.wecom.errors import WelcomeCodeInvalid
from config.settings import Settings
from customers.models import Relationship
from simulator.callbacks import CallbackSender
from tests.conftest import AES_KEY, BACKEND, CORP_ID, TOKEN, Stack, serve_app
from tests.support.tcpproxy import TcpProxy
from tests.support.waiting import eventually
from tests.test_customers import seed_store_sh01
from tests.test_worker import _plain, deps_for, enqueue

WELCOME_API = "externalcontact/send_welcome_msg"
real_services_only = pytest.mark.skipif(BACKEND == "embedded", reason="needs a real PostgreSQL / Redis server")


@asynccontextmanager
async def product(settings: Settings, sim: Any) -> AsyncIterator[Stack]:
    """The app (web + worker) with ``settings``, and WeCom's callback sender pointed at it."""
    async with serve_app(create_app(settings)) as app, aiohttp.ClientSession() as http:
        sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http,
                                timestamp_clock=app.deps.clock.timestamp)
        yield Stack(app, sim, sender, http)


async def dead_letters(stack: Stack) -> list[dict[str, str]]:
    letters: list[dict[str, str]] = await stack.deps.queue.dead_letters()
    return letters


# --- a killed worker ------------------------------------------------------------------------------


@real_services_only
async def test_a_killed_workers_backlog_is_taken_over_within_seconds(make_settings: Callable[..., Settings]) -> None:
    """A worker holding 100 events is SIGKILLed: another takes all of them over and runs each once,
    within seconds (not after a 60 s idle time, and not 32 every 30 s)."""
    settings = make_settings()
    done: Counter[str] = Counter()
    survivor_router = Router("survivor")

    @survivor_router.event("change_external_contact")
    async def handle(event: Event, deps: Deps) -> None:
        done[event.key] += 1

    async with deps_for(settings) as deps:
        for n in range(100):
            await enqueue(deps, f"wmKILL{n:04d}")
        doomed_settings = _plain(settings) | {"scrm_worker_concurrency": 200}
        doomed = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.doomed_worker", json.dumps(doomed_settings), env=dict(os.environ)
        )
        started = f"{{{settings.scrm_redis_prefix}}}:doomed:started"
        try:
            await eventually(lambda: _count(deps, started, 100), within=30)
        finally:
            doomed.kill()  # SIGKILL: no cleanup, no release; 100 entries stay pending on "doomed"
            await doomed.wait()
        killed_at = time.monotonic()
        assert (await deps.redis.xpending(deps.queue.keys.stream, deps.queue.group))["pending"] == 100

        survivor = build_worker(deps, Dispatcher([survivor_router]), consumer="survivor")
        running = asyncio.create_task(survivor.run())
        try:
            await eventually(lambda: len(done) == 100, within=20)
            took = time.monotonic() - killed_at
        finally:
            survivor.stop()
            await running
        assert took < 8.0, f"the dead worker's 100 events took {took:.1f} s to run elsewhere"
        assert set(done.values()) == {1}, "each event ran once"
        assert await EventLog.all().count() == 100
        assert (await deps.queue.depth())["dead"] == 0


async def _count(deps: Deps, key: str, wanted: int) -> bool:
    return int(await deps.redis.get(key) or 0) >= wanted


# --- PostgreSQL lost mid-event ----------------------------------------------------------------------


def through(proxy: TcpProxy, database_url: str) -> str:
    parts = urlsplit(database_url)
    netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@real_services_only
async def test_postgres_lost_mid_add_costs_seconds_not_attempts(
    make_settings: Callable[..., Settings], database_url: str, sim: Any
) -> None:
    """The worker loses PostgreSQL while it handles an add (3 s): once the database is back the
    customer is welcomed once and recorded within seconds, on the event's first attempt."""
    pg = urlsplit(database_url)
    proxy = TcpProxy(pg.hostname or "127.0.0.1", pg.port or 5432)
    await proxy.start()
    try:
        settings = make_settings(wecom_api_base=sim.url, database_url=through(proxy, database_url))
        async with product(settings, sim) as stack:
            seed_store_sh01(stack)
            # WeCom answers externalcontact/get slowly, so the cut lands inside the handler.
            stack.state.faults.inject("externalcontact/get", latency=1.0, count=1)
            await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmPG0001", state="store_sh01"))
            await asyncio.sleep(0.4)
            await proxy.cut()
            await asyncio.sleep(3.0)
            await proxy.restore()
            back_at = time.monotonic()

            async def welcomed_and_recorded() -> bool:
                return bool(stack.state.welcome_messages) and await Relationship.filter(
                    customer__external_userid="wmPG0001", state="store_sh01", channel_id__not_isnull=True
                ).exists()

            await eventually(welcomed_and_recorded, within=15)
            took = time.monotonic() - back_at
            await stack.settle()
            assert took < 5.0, f"{took:.1f} s after the database came back"
            assert len(stack.state.welcome_messages) == 1
            assert stack.state.count_calls(WELCOME_API) == 1
            assert await dead_letters(stack) == []
            add = await EventLog.get(source="wecom")
            assert add.attempts == 1, "the outage spent none of the event's attempts"
    finally:
        await proxy.close()


# --- a claim left by a dead sender ----------------------------------------------------------------------


@pytest.mark.parametrize("sent_before_dying", [True, False], ids=["sent-then-died", "died-before-send"])
async def test_a_dead_senders_claim_never_dead_letters_the_add(
    stack: Stack, sent_before_dying: bool
) -> None:
    """A worker claimed the welcome and died (before or after WeCom took it). The add is retried
    without spending attempts until the dead claim lapses; then the welcome goes — or WeCom's
    41051 (code used) says it went — and the customer is recorded meanwhile."""
    seed_store_sh01(stack)
    xml = stack.state.customer_scans_qr("guide_sh01_a", "wmSTALE01", state="store_sh01")
    code = xml.split("<WelcomeCode><![CDATA[")[1].split("]]>")[0]
    if sent_before_dying:
        await stack.deps.wecom.send_welcome_msg(code, "您好，欢迎！")
    await Outbox.create(key=f"welcome:{code}", kind="welcome", recipient="wmSTALE01", status="sending",
                        claimed_at=stack.deps.clock.now())
    started = time.monotonic()
    await stack.deliver(xml)

    await eventually(lambda: Relationship.filter(customer__external_userid="wmSTALE01").exists(), within=3)
    await eventually(lambda: EventLog.filter(source="wecom").exists(), within=20)
    took = time.monotonic() - started
    await stack.settle()
    assert took < 12.0, f"{took:.1f} s"
    assert len(stack.state.welcome_messages) == 1, "welcomed exactly once"
    assert stack.state.count_calls(WELCOME_API) == 2 if sent_before_dying else 1
    assert await dead_letters(stack) == []
    assert (await EventLog.get(source="wecom")).attempts == 1


async def test_wecom_answers_41051_for_a_used_welcome_code(stack: Stack) -> None:
    seed_store_sh01(stack)
    xml = stack.state.customer_scans_qr("guide_sh01_a", "wmTWICE01", state="store_sh01")
    code = xml.split("<WelcomeCode><![CDATA[")[1].split("]]>")[0]
    await stack.deps.wecom.send_welcome_msg(code, "您好")
    with pytest.raises(WelcomeCodeInvalid) as refused:
        await stack.deps.wecom.send_welcome_msg(code, "您好")
    assert refused.value.errcode == 41051
    assert len(stack.state.welcome_messages) == 1


# --- a welcome that fails -------------------------------------------------------------------------------


async def test_a_failing_welcome_never_keeps_the_customer_unrecorded(
    make_settings: Callable[..., Settings], sim: Any
) -> None:
    """WeCom refuses the welcome (busy, -1) for a while: customer, relation and channel are recorded
    at once all the same, and the welcome goes out once when WeCom takes it again."""
    settings = make_settings(wecom_api_base=sim.url, scrm_max_attempts=50)
    async with product(settings, sim) as stack:
        seed_store_sh01(stack)
        stack.state.faults.inject(WELCOME_API, errcode=-1)
        await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmBUSY001", state="store_sh01"))

        await eventually(
            lambda: Relationship.filter(
                customer__external_userid="wmBUSY001", state="store_sh01", channel_id__not_isnull=True
            ).exists(),
            within=3,
        )
        assert stack.state.welcome_messages == [], "the welcome is still refused"
        stack.state.faults.clear()
        await eventually(lambda: bool(stack.state.welcome_messages), within=10)
        await stack.settle()
        assert len(stack.state.welcome_messages) == 1
        assert await dead_letters(stack) == []


# --- Redis lost mid-event -----------------------------------------------------------------------------


@real_services_only
async def test_redis_lost_mid_event_is_waited_out_not_redelivered(make_settings: Callable[..., Settings]) -> None:
    """The worker loses Redis while a handler runs (2 s): the handler's work is kept, the event is
    acknowledged within seconds of Redis coming back, once, on its first attempt and delivery."""
    from tests.conftest import REDIS_URL

    redis_url = urlsplit(REDIS_URL)
    proxy = TcpProxy(redis_url.hostname or "127.0.0.1", redis_url.port or 6379)
    await proxy.start()
    gate = asyncio.Event()
    runs: list[str] = []
    router = Router("gated")

    @router.event("change_external_contact")
    async def gated(event: Event, deps: Deps) -> None:
        runs.append(event.key)
        await gate.wait()

    settings = make_settings()
    worker_settings = make_settings(redis_url=urlunsplit(redis_url._replace(netloc=f"127.0.0.1:{proxy.port}")))
    try:
        async with deps_for(settings) as deps, deps_for(worker_settings) as worker_deps:
            await enqueue(deps)
            worker = build_worker(worker_deps, Dispatcher([router]), consumer="cut-off")
            running = asyncio.create_task(worker.run())
            try:
                await eventually(lambda: bool(runs), within=10)
                await proxy.cut()
                gate.set()  # the handler finishes while Redis is gone: the ack cannot be written
                await asyncio.sleep(2.0)
                await proxy.restore()
                back_at = time.monotonic()

                async def acknowledged() -> bool:
                    return await deps.redis.xlen(deps.queue.keys.stream) == 0

                await eventually(acknowledged, within=15)
                took = time.monotonic() - back_at
            finally:
                worker.stop()
                await running
            assert took < 4.0, f"{took:.1f} s after Redis came back"
            assert len(runs) == 1, "the handler ran once"
            assert (await EventLog.get()).attempts == 1
            assert (await deps.queue.depth()) == {"stream": 0, "dead": 0, "retry": 0}
    finally:
        await proxy.close()


async def test_a_redis_that_lost_its_data_gets_the_consumer_group_back(make_settings: Callable[..., Settings]) -> None:
    """Redis restarted without its data (the stream and the group gone): the worker makes the group
    again and the next callback is handled, instead of failing on NOGROUP forever."""
    done: list[str] = []
    router = Router("after_loss")

    @router.event("change_external_contact")
    async def handle(event: Event, deps: Deps) -> None:
        done.append(event.key)

    async with deps_for(make_settings()) as deps:
        worker = build_worker(deps, Dispatcher([router]))
        running = asyncio.create_task(worker.run())
        try:
            await enqueue(deps, "wmBEFORE01")
            await eventually(lambda: len(done) == 1, within=10)
            await deps.redis.delete(deps.queue.keys.stream)
            await enqueue(deps, "wmAFTER001")
            await eventually(lambda: len(done) == 2, within=10)
        finally:
            worker.stop()
            await running
