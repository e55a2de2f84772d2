"""Dead letters an operator can act on: `scrm events stats | dead | replay`, the 队列 command, the gauges."""

from __future__ import annotations

import asyncio
import io
import os
import re
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from bot.app import build_worker, create_app
from bot.cli import _parser
from bot.crypto import CallbackCrypto
from bot.deadletters import events_command
from bot.deps import Deps
from bot.dispatch import Dispatcher, Router
from bot.errors import PermanentFailure
from bot.events import Event
from bot.models.eventlog import EventLog
from config.settings import Settings
from customers.models import Relationship
from simulator.callbacks import CallbackSender
from tests.conftest import AES_KEY, BACKEND, CORP_ID, SECRET, TOKEN, Stack, serve_app
from tests.test_operators import say
from tests.test_worker import deps_for, enqueue

LOST = "event/change_external_contact/del_follow_user"


@pytest.fixture
async def ops(make_settings: Callable[..., Settings], sim: Any) -> AsyncIterator[Stack]:
    for userid, name in {"guide_sh01_a": "王小美", "manager_sh01": "张店长", "operator01": "运营小赵"}.items():
        sim.state.add_member(userid, name)
    settings = make_settings(wecom_api_base=sim.url, scrm_command_per_minute=30, scrm_max_attempts=2)
    async with serve_app(create_app(settings)) as app, aiohttp.ClientSession() as http:
        sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http)
        yield Stack(app, sim, sender, http)


async def scrm_events(deps: Deps, *args: str, as_process: bool = False) -> tuple[int, str]:
    """``scrm events …`` as an operator runs it: with ``as_process``, a process of its own on the real
    services (each costs seconds of start-up, so a test starts one per action it checks that way);
    otherwise the same command function runs here, on the arguments the real parser made of the same
    words (always on the embedded backend, whose Redis lives in this process only)."""
    if as_process and BACKEND == "real":
        s = deps.settings
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "SCRM_", "DATABASE_", "REDIS_"))}
        env = keep | {
            "WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": str(s.wecom_agent_id), "WECOM_SECRET": SECRET,
            "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY, "DATABASE_URL": s.database_url,
            "REDIS_URL": s.redis_url, "SCRM_REDIS_PREFIX": s.scrm_redis_prefix,
            "SCRM_DEAD_LETTER_MAXLEN": str(s.scrm_dead_letter_maxlen),
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "events", *args, env=env, cwd="/tmp",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode is not None
        return proc.returncode, out.decode() + err.decode()
    parsed = _parser().parse_args(["events", *args])
    buffer = io.StringIO()
    code = await events_command(deps.queue, parsed.action, buffer, ids=parsed.ids, every=parsed.all,
                                route=parsed.route, since=parsed.since)
    return code, buffer.getvalue()


def alerts_to(stack: Stack, userid: str) -> int:
    return sum(1 for m in stack.state.messages_to(userid) if "客户流失提醒" in str(m.content.get("content", "")))


def welcomes_to(stack: Stack, external_userid: str) -> int:
    return sum(1 for w in stack.state.welcome_messages if w.external_userid == external_userid)


async def test_a_dead_letter_is_listed_with_its_error_replayed_once_and_a_second_replay_changes_nothing(
    ops: Stack,
) -> None:
    await ops.deliver(ops.state.customer_scans_qr("guide_sh01_a", "wmLOST0001", state="store_sh01", name="钱先生"))
    await ops.settle()
    # The customer deletes the guide while WeCom refuses every message (-1, past all retries).
    ops.state.faults.inject("message/send", errcode=-1)
    await ops.deliver(ops.state.customer_deletes_guide("guide_sh01_a", "wmLOST0001"))
    await ops.settle()
    assert (await ops.deps.queue.depth())["dead"] == 1
    assert alerts_to(ops, "guide_sh01_a") == 0

    # The operator sees it: in the CLI with route, key, error, attempts and first-seen time …
    code, listed = await scrm_events(ops.deps, "dead", as_process=True)
    assert code == 0, listed
    line, error_line = listed.splitlines()[:2]
    dead_id = line.split()[0]
    assert LOST in line and "key=evt:" in line and "attempts=2" in line and "first seen 20" in line
    assert "customers.on_del_follow_user: WeComRetryableError: message/send: errcode -1" in error_line
    assert "1 dead letter(s)" in listed
    assert "0 dead letter(s)" in (await scrm_events(ops.deps, "dead", "--route", "add_external_contact"))[1]
    assert "0 dead letter(s)" in (await scrm_events(ops.deps, "dead", "--since", "2099-01-01"))[1]
    assert "1 dead letter(s)" in (await scrm_events(ops.deps, "dead", "--since", "1h"))[1]
    code, stats = await scrm_events(ops.deps, "stats", as_process=True)
    assert code == 0 and "dead letters:      1 (" in stats and "stream:            0" in stats
    ops.state.faults.clear()  # WeCom is back (our chat answers go through message/send too)
    # … in chat (operators only) …
    answer = await say(ops, "operator01", "队列")
    assert "死信 1 条" in answer and LOST in answer and "errcode -1" in answer and "scrm events replay" in answer
    assert "仅限" in await say(ops, "guide_sh01_a", "队列")
    # … and in Prometheus.
    bearer = {"Authorization": f"Bearer {ops.deps.settings.scrm_metrics_token.get_secret_value()}"}
    async with ops.http.get(f"{ops.app.url}/metrics", headers=bearer) as response:
        metrics = await response.text()
    assert "scrm_dead_letters 1.0" in metrics and "scrm_oldest_pending_age_seconds 0.0" in metrics

    # The replay makes the alerts go, once each.
    code, replayed = await scrm_events(ops.deps, "replay", dead_id, as_process=True)
    assert code == 0 and f"replayed 1 dead letter(s)\n  {dead_id}" in replayed
    await ops.settle()
    assert alerts_to(ops, "guide_sh01_a") == 1 and alerts_to(ops, "manager_sh01") == 1
    assert await EventLog.filter(event="change_external_contact", change="del_follow_user").count() == 1

    # Replaying again changes nothing: the dead letter is gone, the event ran once.
    code, again = await scrm_events(ops.deps, "replay", dead_id, as_process=True)
    assert code == 1 and "already replayed" in again
    assert "replayed 0 dead letter(s)" in (await scrm_events(ops.deps, "replay", "--all"))[1]
    await ops.settle()
    assert alerts_to(ops, "guide_sh01_a") == 1 and alerts_to(ops, "manager_sh01") == 1
    assert (await ops.deps.queue.depth())["dead"] == 0
    assert "dead letters:      0 (" in (await scrm_events(ops.deps, "stats"))[1]
    assert welcomes_to(ops, "wmLOST0001") == 1
    assert await Relationship.filter(customer__external_userid="wmLOST0001").count() == 1


class Steps:
    """Two handlers on one route: `recorded` always succeeds, `notified` fails permanently until fixed."""

    def __init__(self) -> None:
        self.router = Router("steps")
        self.calls: Counter[str] = Counter()
        self.broken = True

        @self.router.event("change_external_contact", "add_external_contact")
        async def recorded(event: Event, deps: Deps) -> None:
            self.calls["recorded"] += 1

        @self.router.event("change_external_contact", "add_external_contact")
        async def notified(event: Event, deps: Deps) -> None:
            self.calls["notified"] += 1
            if self.broken:
                raise PermanentFailure("the notice template is missing")


async def test_replay_runs_only_the_handlers_that_failed_and_only_once(make_settings: Callable[..., Settings]) -> None:
    steps = Steps()
    async with deps_for(make_settings()) as deps:
        await enqueue(deps, "wmSTEP0001")
        await enqueue(deps, "wmSTEP0002")
        worker = build_worker(deps, Dispatcher([steps.router]))
        await worker.run_until_idle()
        assert steps.calls == Counter({"recorded": 2, "notified": 2})
        code, listed = await scrm_events(deps, "dead", "--route", "add_external_contact")
        assert code == 0 and "2 dead letter(s)" in listed and "done before: steps.recorded" in listed

        steps.broken = False
        code, out = await scrm_events(deps, "replay", "--all", "--route", "add_external_contact")
        assert code == 0 and "replayed 2 dead letter(s)" in out
        await worker.run_until_idle()
        assert steps.calls == Counter({"recorded": 2, "notified": 4}), "recorded already succeeded: skipped"
        logged = await EventLog.all().values_list("handlers", flat=True)
        assert sorted(map(tuple, logged)) == [("steps.notified", "steps.recorded")] * 2  # type: ignore[arg-type]

        assert "replayed 0" in (await scrm_events(deps, "replay", "--all"))[1]
        await worker.run_until_idle()
        assert steps.calls == Counter({"recorded": 2, "notified": 4})


async def test_a_replayed_event_already_processed_runs_nothing(make_settings: Callable[..., Settings]) -> None:
    """A dead letter whose event went through meanwhile (a copy that was reclaimed): replay acknowledges it."""
    steps = Steps()
    steps.broken = False
    async with deps_for(make_settings()) as deps:
        await enqueue(deps, "wmTWICE001")
        [event] = await deps.queue.read("someone", 1, 0)
        await deps.queue.dead_letter(event, "abandoned by 5 consumers (crashed or killed)")
        worker = build_worker(deps, Dispatcher([steps.router]))
        await deps.redis.xadd(deps.queue.keys.stream, event.to_fields())  # the copy that did go through
        await worker.run_until_idle()
        assert steps.calls == Counter({"recorded": 1, "notified": 1})
        code, _ = await scrm_events(deps, "replay", "--all")
        assert code == 0
        await worker.run_until_idle()
        assert steps.calls == Counter({"recorded": 1, "notified": 1})
        assert await EventLog.all().count() == 1


async def test_the_dead_letter_stream_is_bounded_and_stats_show_it(make_settings: Callable[..., Settings]) -> None:
    steps = Steps()
    async with deps_for(make_settings(scrm_dead_letter_maxlen=3)) as deps:
        for i in range(5):
            await enqueue(deps, f"wmBOUND{i:03d}")
        await build_worker(deps, Dispatcher([steps.router])).run_until_idle()
        assert steps.calls["notified"] == 5
        code, stats = await scrm_events(deps, "stats")
        assert code == 0 and "dead letters:      3 (the oldest are dropped beyond 3)" in stats
        listed = (await scrm_events(deps, "dead"))[1]
        assert "3 dead letter(s)" in listed


async def test_stats_show_pending_per_consumer_the_oldest_age_and_retries(
    make_settings: Callable[..., Settings],
) -> None:
    async with deps_for(make_settings()) as deps:
        await enqueue(deps, "wmPEND0001")
        await enqueue(deps, "wmPEND0002")
        await deps.queue.read("worker-a", 1, 0)  # delivered, not acknowledged: pending on worker-a
        [second] = await deps.queue.read("worker-b", 1, 0)
        await deps.queue.schedule_retry(second, time.time() + 30)
        await asyncio.sleep(0.2)
        code, stats = await scrm_events(deps, "stats")
        assert code == 0
        assert "stream:            1 event(s)" in stats
        assert re.search(r"pending: +1 \(worker-a 1 \(idle \d+ s\)\)", stats), stats
        next_retry = re.search(r"retries scheduled: 1 \(next in ([\d.]+) s\)", stats)
        assert next_retry and 0 < float(next_retry[1]) <= 30, stats
        oldest = re.search(r"oldest pending: +([\d.]+) s", stats)
        assert oldest and float(oldest[1]) >= 0.2, stats
        assert (await scrm_events(deps, "replay"))[0] == 2, "replay needs ids or --all"
