"""The worker, against real Redis and PostgreSQL: fan-out, retries, dead letters, crashes, shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.app import build_worker, create_app, open_deps, stop_worker
from bot.deps import Deps
from bot.dispatch import Dispatcher, Router
from bot.errors import PermanentFailure
from bot.events import Event
from bot.models.eventlog import EventLog
from config.settings import Settings
from tests.conftest import BACKEND, serve_app
from tests.support.waiting import eventually
from tests.test_ingest import add_contact_xml, signed


class Recorder:
    """A feature module as tests see it: a router whose handlers count what they did."""

    def __init__(self) -> None:
        self.router = Router("recorder")
        self.calls: Counter[str] = Counter()
        self.fail_plan: dict[str, list[BaseException | None]] = {}

    def handler(self, name: str, *, event: str = "change_external_contact", change: str | None = None) -> None:
        async def handle(evt: Event, deps: Deps) -> None:
            self.calls[name] += 1
            plan = self.fail_plan.get(name)
            if plan:
                outcome = plan.pop(0)
                if outcome is not None:
                    raise outcome

        handle.__name__ = name
        self.router.event(event, change)(handle)


@asynccontextmanager
async def deps_for(settings: Settings) -> AsyncIterator[Deps]:
    async with open_deps(settings) as deps:
        await deps.queue.ensure_group()
        yield deps


async def enqueue(deps: Deps, external_userid: str = "wmEXT001") -> str:
    from bot.events import callback_dedup_key
    from bot.xmlparse import parse_xml

    body = parse_xml(add_contact_xml(external_userid))
    stream_id = await deps.queue.append("wecom", callback_dedup_key(body), json.dumps(body), time.time())
    assert stream_id
    return callback_dedup_key(body)


async def test_every_subscriber_gets_the_event_once(make_settings: Callable[..., Settings]) -> None:
    rec = Recorder()
    rec.handler("customers", change="add_external_contact")
    rec.handler("tagging")  # every change_external_contact
    rec.handler("unrelated", event="change_external_chat")
    async with deps_for(make_settings()) as deps:
        key = await enqueue(deps)
        worker = build_worker(deps, Dispatcher([rec.router]))
        assert await worker.run_until_idle() == 1
        assert rec.calls == Counter({"customers": 1, "tagging": 1})
        log = await EventLog.get(key=f"wecom:{key}")
        assert log.handlers == ["recorder.customers", "recorder.tagging"]
        assert await deps.queue.depth() == {"stream": 0, "dead": 0, "retry": 0}


async def test_failure_is_retried_and_only_the_failed_handler_runs_again(
    make_settings: Callable[..., Settings],
) -> None:
    rec = Recorder()
    rec.handler("flaky")
    rec.handler("steady")
    rec.fail_plan["flaky"] = [RuntimeError("WeCom hiccup"), RuntimeError("again"), None]
    async with deps_for(make_settings()) as deps:
        await enqueue(deps)
        worker = build_worker(deps, Dispatcher([rec.router]))
        await worker.run_until_idle()
        assert await deps.queue.depth() == {"stream": 0, "dead": 0, "retry": 1}, "second try waits for its backoff"

        async def settled() -> bool:
            await worker.run_until_idle()
            return rec.calls["flaky"] == 3 and (await deps.queue.depth())["retry"] == 0

        await eventually(settled, within=5)
        assert rec.calls == Counter({"flaky": 3, "steady": 1})
        assert await EventLog.all().count() == 1


async def test_gives_up_after_max_attempts_into_dead_letters(make_settings: Callable[..., Settings]) -> None:
    rec = Recorder()
    rec.handler("broken")
    rec.fail_plan["broken"] = [ValueError("bad data")] * 10
    async with deps_for(make_settings(scrm_max_attempts=3)) as deps:
        await enqueue(deps)
        worker = build_worker(deps, Dispatcher([rec.router]))

        async def dead() -> bool:
            await worker.run_until_idle()
            return (await deps.queue.depth())["dead"] == 1

        await eventually(dead, within=5)
        assert rec.calls["broken"] == 3
        [letter] = await deps.queue.dead_letters()
        assert "ValueError: bad data" in letter["error"] and letter["attempt"] == "3"
        assert await EventLog.all().count() == 0


async def test_permanent_failure_is_not_retried(make_settings: Callable[..., Settings]) -> None:
    rec = Recorder()
    rec.handler("refused")
    rec.fail_plan["refused"] = [PermanentFailure("no such customer")]
    async with deps_for(make_settings()) as deps:
        await enqueue(deps)
        await build_worker(deps, Dispatcher([rec.router])).run_until_idle()
        assert rec.calls["refused"] == 1
        assert (await deps.queue.depth())["dead"] == 1


@pytest.mark.skipif(BACKEND == "embedded", reason="a second process needs a real Redis")
async def test_killed_worker_event_is_reclaimed_and_processed_once(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(scrm_heartbeat_ttl_s=1.0)
    rec = Recorder()
    rec.handler("survivor")
    async with deps_for(settings) as deps:
        await enqueue(deps)
        doomed = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.doomed_worker", json.dumps(_plain(settings)), env=dict(os.environ)
        )
        started_key = f"{{{settings.scrm_redis_prefix}}}:doomed:started"
        try:
            await eventually(lambda: deps.redis.exists(started_key), within=60)  # a new process, on a busy host
        finally:
            doomed.kill()  # SIGKILL: no cleanup, no release; the entry stays pending on "doomed"
            await doomed.wait()
        pending = await deps.redis.xpending(deps.queue.keys.stream, deps.queue.group)
        assert pending["pending"] == 1

        worker = build_worker(deps, Dispatcher([rec.router]), consumer="survivor")

        async def processed() -> bool:
            await worker.run_until_idle()
            return rec.calls["survivor"] == 1

        await eventually(processed, within=10)
        await worker.run_until_idle()
        assert rec.calls["survivor"] == 1
        assert (await deps.redis.xpending(deps.queue.keys.stream, deps.queue.group))["pending"] == 0
        assert await EventLog.all().count() == 1


def _plain(settings: Settings) -> dict[str, Any]:
    values = settings.model_dump(mode="json")
    for name, value in settings:  # every secret as it is (a dump masks them)
        if isinstance(value, SecretStr):
            values[name] = value.get_secret_value()
    return values


async def test_entry_that_keeps_killing_consumers_is_dead_lettered(make_settings: Callable[..., Settings]) -> None:
    rec = Recorder()
    rec.handler("never_reached")
    async with deps_for(make_settings(scrm_max_deliveries=3)) as deps:
        await enqueue(deps)
        # Three consumers each take the entry and die without a word (no heartbeat).
        for n in range(3):
            if n == 0:
                await deps.queue.read(f"crashed{n}", 10, 0)
            else:
                await deps.queue.take_over(f"crashed{n - 1}", f"crashed{n}", 10)
        await build_worker(deps, Dispatcher([rec.router])).run_until_idle()
        assert rec.calls["never_reached"] == 0
        [letter] = await deps.queue.dead_letters()
        assert "abandoned" in letter["error"]


async def test_graceful_shutdown_releases_unfinished_events(make_settings: Callable[..., Settings]) -> None:
    blocker = Router("slow")
    entered = asyncio.Event()

    @blocker.event("change_external_contact")
    async def takes_forever(event: Event, deps: Deps) -> None:
        entered.set()
        await asyncio.sleep(3600)

    rec = Recorder()
    rec.handler("after_restart")
    async with deps_for(make_settings(scrm_shutdown_grace_s=0.2)) as deps:
        await enqueue(deps)
        first = build_worker(deps, Dispatcher([blocker]))
        task = asyncio.create_task(first.run())
        await asyncio.wait_for(entered.wait(), 10)
        first.stop()
        await asyncio.wait_for(task, 10)
        assert (await deps.redis.xpending(deps.queue.keys.stream, deps.queue.group))["pending"] == 0
        assert await deps.redis.xlen(deps.queue.keys.stream) == 1, "released back, not lost"
        await build_worker(deps, Dispatcher([rec.router])).run_until_idle()
        assert rec.calls["after_restart"] == 1


async def test_an_idle_worker_stops_at_once_and_what_arrives_later_is_run_by_the_next(
    make_settings: Callable[..., Settings],
) -> None:
    # A deploy stops idle workers: waiting out a long BLOCK (or a read nobody answers) would hold the stop.
    rec = Recorder()
    rec.handler("handled")
    async with deps_for(make_settings()) as deps:
        idle = build_worker(deps, Dispatcher([rec.router]))
        idle.policy = replace(idle.policy, block_ms=60_000)
        task = asyncio.create_task(idle.run())
        await asyncio.sleep(0.5)  # past the first empty read, into the long wait
        started = time.monotonic()
        idle.stop()
        await asyncio.wait_for(task, 10)
        assert time.monotonic() - started < 3
        await enqueue(deps)
        assert await build_worker(deps, Dispatcher([rec.router])).run_until_idle() == 1
        assert rec.calls["handled"] == 1


def _past_the_peak(extra: int) -> int:
    """Bytes to allocate to raise this process's peak memory by ``extra`` (it may have been bigger before)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    resident = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return max(0, peak - resident) + extra


async def test_a_step_in_the_workers_peak_memory_is_logged_with_the_event_that_made_it(
    make_settings: Callable[..., Settings],
) -> None:
    # An operator reading a long-running worker's log learns which job raised its memory for good.
    import structlog

    held: list[bytes] = []
    grows = Router("grows")

    @grows.event("change_external_contact")
    async def builds_a_big_list(event: Event, deps: Deps) -> None:
        if event.get("ExternalUserID") == "wmBIG":
            held.append(b"x" * _past_the_peak(64 * 1024 * 1024))  # written, so resident

    async with deps_for(make_settings()) as deps:
        await enqueue(deps, "wmSMALL")
        await enqueue(deps, "wmBIG")
        with structlog.testing.capture_logs() as logs:
            assert await build_worker(deps, Dispatcher([grows])).run_until_idle() == 2
    steps = [entry for entry in logs if entry["event"] == "worker_peak_memory_rose"]
    assert len(steps) == 1, logs
    assert steps[0]["finished"] == "event/change_external_contact/add_external_contact"
    assert steps[0]["to_mb"] - steps[0]["from_mb"] >= 60
    held.clear()


def _resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def test_memory_a_job_freed_is_given_back_so_a_long_running_worker_stays_flat(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A nightly job builds ~150 MB of rows and drops them: the worker's resident size comes back down after it
    # (without the trim it stays at the job's peak for good, which an operator reads as a leak).
    import bot.worker
    from bot.heap import trim_heap

    monkeypatch.setattr(bot.worker, "HEAP_TRIM_EVERY_S", 0.0)
    pinned: list[bytes] = []
    sizes: dict[str, float] = {}
    jobs = Router("jobs")

    @jobs.event("change_external_contact")
    async def builds_rows_and_drops_them(event: Event, deps: Deps) -> None:
        if event.get("ExternalUserID") == "wmBIG":
            rows = [b"r" * 2000 + bytes([i % 256]) for i in range(75_000)]
            pinned.append(rows[-1])  # the last row is kept (the heap's top stays in use): the rest is freed inside
            sizes["during"] = _resident_mb()
            del rows

    async with deps_for(make_settings()) as deps:
        await enqueue(deps, "wmBIG")
        trim_heap()  # the test process's own free heap given back first: the rows take new pages
        sizes["before"] = _resident_mb()
        assert await build_worker(deps, Dispatcher([jobs])).run_until_idle() == 1
        sizes["after"] = _resident_mb()
    grew = sizes["during"] - sizes["before"]
    assert grew > 100 and sizes["after"] - sizes["before"] < grew / 4, sizes


async def test_a_stop_that_hangs_is_cut_off_and_said(make_settings: Callable[..., Settings]) -> None:
    # A process told to stop must stop: a worker that does not finish in time is left, loudly.
    import structlog

    async with deps_for(make_settings()) as deps:
        worker = build_worker(deps, Dispatcher([]))
        hung = asyncio.create_task(asyncio.sleep(3600))
        started = time.monotonic()
        with structlog.testing.capture_logs() as logs:
            await stop_worker(worker, hung, 0.3)
        assert time.monotonic() - started < 2 and hung.cancelled()
        assert [e["event"] for e in logs if e["log_level"] == "error"] == ["worker_stop_timed_out"]


async def test_callback_delivered_three_times_has_one_effect_end_to_end(
    make_settings: Callable[..., Settings],
) -> None:
    rec = Recorder()
    rec.handler("welcome", change="add_external_contact")
    settings = make_settings()
    async with (
        serve_app(create_app(settings, role="all", routers=[rec.router])) as app,
        aiohttp.ClientSession() as http,
    ):
        params, body = signed(add_contact_xml())
        for _ in range(3):
            async with http.post(app.callback_url, params=params, data=body) as resp:
                assert await resp.text() == "success"
        await eventually(lambda: rec.calls["welcome"] >= 1)
        # Even once the Redis de-duplication window has passed, the event log stops a replay.
        await app.deps.redis.delete(
            *[k async for k in app.deps.redis.scan_iter(match=f"{{{settings.scrm_redis_prefix}}}:seen:*")]
        )
        async with http.post(app.callback_url, params=params, data=body) as resp:
            assert await resp.text() == "success"

        async def drained() -> bool:
            return await app.deps.redis.xlen(app.deps.queue.keys.stream) == 0

        await eventually(drained)
        assert rec.calls["welcome"] == 1
        assert await EventLog.all().count() == 1


async def test_handler_longer_than_the_heartbeat_ttl_runs_once(make_settings: Callable[..., Settings]) -> None:
    """A first tag sync or a full re-tag can outlast the heartbeat TTL many times: its live worker
    keeps the event, never taken over and started again beside itself (by another worker or its own)."""
    slow = Router("slow")
    starts: list[str] = []

    @slow.event("change_external_contact")
    async def long_job(event: Event, deps: Deps) -> None:
        starts.append(event.stream_id)
        await asyncio.sleep(3.0)

    async with deps_for(make_settings(scrm_heartbeat_ttl_s=0.6)) as deps:
        await enqueue(deps)
        workers = [build_worker(deps, Dispatcher([slow]), consumer=name) for name in ("w1", "w2")]
        tasks = [asyncio.create_task(worker.run()) for worker in workers]
        await eventually(lambda: len(starts) == 1, within=10)
        await asyncio.sleep(3.5)  # five heartbeat TTLs pass while the job runs, and it finishes
        for worker in workers:
            worker.stop()
        await asyncio.gather(*tasks)
        assert len(starts) == 1, f"started {len(starts)} times"
        assert (await deps.redis.xpending(deps.queue.keys.stream, deps.queue.group))["pending"] == 0
        assert await EventLog.all().count() == 1


async def test_an_entry_whose_delivery_was_lost_is_run_by_its_live_consumer(
    make_settings: Callable[..., Settings],
) -> None:
    """Redis persisted the XREADGROUP that handed a worker an entry and died before the reply arrived.

    The entry sits in that worker's own pending list; the worker is alive, so no takeover touches it.
    The worker itself must find it (seen once in the chaos suite: one add never welcomed).
    """
    rec = Recorder()
    rec.handler("customers", change="add_external_contact")
    async with deps_for(make_settings()) as deps:
        await enqueue(deps)
        assert await deps.queue.read("worker-a", 1, 0)  # handed to worker-a; the reply is lost
        worker = build_worker(deps, Dispatcher([rec.router]), consumer="worker-a")
        running = asyncio.create_task(worker.run())
        try:
            await eventually(lambda: rec.calls["customers"] == 1, within=5)
            await eventually(lambda: worker.processed_count == 1, within=5)
        finally:
            worker.stop()
            await running
        assert rec.calls["customers"] == 1
        assert await deps.queue.depth() == {"stream": 0, "dead": 0, "retry": 0}


async def test_callbacks_go_before_a_backlog_of_follow_ups_which_still_all_run(
    make_settings: Callable[..., Settings],
) -> None:
    """A new contact (its welcome code lives 20 s) is not queued behind the product's own follow-ups."""
    from bot.publish import publish

    order: list[str] = []
    router = Router("lanes")

    @router.event("change_external_contact", "add_external_contact")
    async def added(event: Event, deps: Deps) -> None:
        order.append(event.get("ExternalUserID"))

    @router.on("internal", "follow_up")
    async def follow_up(event: Event, deps: Deps) -> None:
        order.append(event.body["n"])

    async with deps_for(make_settings(scrm_worker_concurrency=2)) as deps:
        for n in range(40):  # e.g. the records and re-tags of a burst of earlier adds
            assert await publish(deps, "follow_up", {"n": f"f{n:02d}"}, str(n))
        await enqueue(deps, "wmNEW001")
        await enqueue(deps, "wmNEW002")
        worker = build_worker(deps, Dispatcher([router]))
        assert await worker.run_until_idle() == 42
    assert set(order[:2]) == {"wmNEW001", "wmNEW002"}, order[:5]
    assert sorted(order[2:]) == [f"f{n:02d}" for n in range(40)], "every follow-up ran, once"


async def test_follow_ups_keep_a_share_of_reads_under_a_flood_of_callbacks(
    make_settings: Callable[..., Settings],
) -> None:
    from bot.publish import publish

    order: list[str] = []
    router = Router("lanes")

    @router.event("change_external_contact", "add_external_contact")
    async def added(event: Event, deps: Deps) -> None:
        order.append("callback")

    @router.on("internal", "follow_up")
    async def follow_up(event: Event, deps: Deps) -> None:
        order.append("follow_up")

    async with deps_for(make_settings(scrm_worker_concurrency=1)) as deps:
        for n in range(8):
            assert await publish(deps, "follow_up", {"n": n}, str(n))
        for n in range(40):
            await enqueue(deps, f"wmFLOOD{n:03d}")
        worker = build_worker(deps, Dispatcher([router]))
        assert await worker.run_until_idle() == 48
    # One read in four serves the follow-ups first: all 8 run within the first 32, not after the 40.
    assert order[:32].count("follow_up") == 8, order


async def test_an_event_that_runs_a_long_while_still_counts_one_delivery(
    make_settings: Callable[..., Settings],
) -> None:
    """The worker looks through its own pending list every heartbeat TTL; looking must not count as delivering,
    or a slow event would be dead-lettered as "abandoned by N consumers" when its worker is later replaced."""
    release = asyncio.Event()
    router = Router("slow")

    @router.event("change_external_contact")
    async def slow(event: Event, deps: Deps) -> None:
        await release.wait()

    async with deps_for(make_settings(scrm_heartbeat_ttl_s=0.3)) as deps:
        await enqueue(deps)
        worker = build_worker(deps, Dispatcher([router]))
        running = asyncio.create_task(worker.run())
        try:
            await asyncio.sleep(3)  # ten looks through the pending list
            pending: Any = await deps.redis.xpending_range(deps.queue.keys.stream, deps.queue.group, "-", "+", 10)
            assert [p["times_delivered"] for p in pending] == [1]
        finally:
            release.set()
            await eventually(lambda: worker.processed_count == 1, within=10)
            worker.stop()
            await running
