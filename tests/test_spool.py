"""Redis down for longer than WeCom's re-sends: the web keeps callbacks on its disk, and nothing is lost.

WeCom re-sends an unanswered callback 3 times, seconds apart; a Redis restart replaying its AOF can last
longer. These tests stop a redis-server of their own under the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import create_app
from bot.crypto import CallbackCrypto
from bot.queue import EventQueue
from bot.redis_conn import connect_redis
from bot.spool import CallbackSpool
from config.settings import Settings
from simulator.callbacks import CallbackSender
from tests.conftest import AES_KEY, BACKEND, CORP_ID, TOKEN, RunningApp, serve_app
from tests.support.callbacks import add_contact_xml, post_callback, signed
from tests.support.waiting import eventually
from tests.test_ingest import _start_redis, _unused_port

pytestmark = pytest.mark.skipif(BACKEND == "embedded", reason="needs a redis-server of its own to stop")


class PrivateRedis:
    def __init__(self) -> None:
        self.port = _unused_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await _start_redis(self.port)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()
        self.proc = None


@asynccontextmanager
async def private_redis() -> AsyncIterator[PrivateRedis]:
    redis = PrivateRedis()
    await redis.start()
    try:
        yield redis
    finally:
        if redis.proc is not None:
            await redis.kill()


async def stream_length(app: RunningApp) -> int:
    return int(await app.deps.redis.xlen(app.deps.queue.keys.stream))


def welcomes_to(sim: Any, external_userid: str) -> int:
    return sum(1 for w in sim.state.welcome_messages if w.external_userid == external_userid)


async def test_customers_who_scan_while_redis_restarts_are_welcomed_once_when_it_is_back(
    make_settings: Callable[..., Settings], sim: Any, http: aiohttp.ClientSession
) -> None:
    sim.state.add_member("guide_sh01_a", "王小美")
    async with private_redis() as redis:
        settings = make_settings(wecom_api_base=sim.url, redis_url=redis.url)
        async with serve_app(create_app(settings)) as app:
            # WeCom as it is: a callback not answered 200 is re-sent 3 times, then dropped.
            wecom = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http,
                                   max_resends=3, resend_delay=0.2)
            before = sim.state.customer_scans_qr("guide_sh01_a", "wmBEFORE", state="store_sh01")
            assert (await wecom.send(before)).delivered
            await eventually(lambda: welcomes_to(sim, "wmBEFORE") == 1, within=10)

            await redis.kill()
            during = [f"wmDURING{n}" for n in range(3)]
            scans = [sim.state.customer_scans_qr("guide_sh01_a", customer, state="store_sh01") for customer in during]
            for scan in scans:
                report = await wecom.send(scan)
                assert report.delivered and report.attempts == 1, "answered at once, from the spool"
            async with http.get(f"{app.url}/healthz") as health:  # the proxy keeps it in rotation
                assert health.status == 200 and await health.text() == "ok (spooling)"
            assert welcomes_to(sim, "wmDURING0") == 0

            await redis.start()  # back, empty (an AOF lost with it): the spool holds what came meanwhile
            await eventually(lambda: all(welcomes_to(sim, c) == 1 for c in during), within=20)
            # WeCom's own re-send of one of them, after the fact, changes nothing.
            assert (await wecom.send(scans[0])).delivered
            await asyncio.sleep(1.5)
            assert [welcomes_to(sim, c) for c in ["wmBEFORE", *during]] == [1, 1, 1, 1]
            assert not _files(settings)  # drained and removed


async def test_a_web_process_that_stopped_with_a_spool_has_it_moved_into_the_queue_by_the_next(
    make_settings: Callable[..., Settings], http: aiohttp.ClientSession
) -> None:
    async with private_redis() as redis:
        settings = make_settings(redis_url=redis.url)
        async with serve_app(create_app(settings, role="web")) as first:
            await redis.kill()
            kept = add_contact_xml("wmKEPT")
            assert await post_callback(http, first, *signed(kept)) == (200, "success")
        # It stopped with Redis still down: its file stays on disk, unlocked.
        assert len(_files(settings)) == 1, _files(settings)

        await redis.start()
        async with serve_app(create_app(settings, role="web")) as second:
            await eventually(lambda: _length_is(second, 1), within=10)
            await eventually(lambda: not _files(settings), within=5)
            # The same callback from WeCom now is a duplicate: still one entry.
            assert await post_callback(http, second, *signed(kept)) == (200, "success")
            assert await stream_length(second) == 1


async def test_with_replicas_required_a_callback_redis_cannot_take_is_answered_503_not_spooled(
    make_settings: Callable[..., Settings], http: aiohttp.ClientSession
) -> None:
    # SCRM_REDIS_MIN_REPLICAS promises "success only once replicas hold it": a web process's disk is not a replica.
    async with private_redis() as redis:
        settings = make_settings(redis_url=redis.url, scrm_redis_min_replicas=1)
        async with serve_app(create_app(settings)) as app:
            await redis.kill()
            status, _text = await post_callback(http, app, *signed(add_contact_xml("wmNOREPLICA")))
            assert status == 503
            assert _spooled_bytes(settings) == 0


def _spooled_bytes(settings: Settings) -> int:
    spool = Path(settings.scrm_spool_dir)
    return sum(f.stat().st_size for f in spool.iterdir()) if spool.exists() else 0


def _files(settings: Settings) -> list[Path]:
    return sorted(Path(settings.scrm_spool_dir).iterdir())


async def _length_is(app: RunningApp, n: int) -> bool:
    return await stream_length(app) == n


async def test_a_full_spool_refuses_and_a_drain_makes_room(tmp_path: Path) -> None:
    async with private_redis() as redis:
        client = connect_redis(redis.url)
        try:
            queue = EventQueue(client, "spooltest")
            spool = CallbackSpool(tmp_path / "spool", queue, max_bytes=600)
            body = b'{"MsgType":"event","Event":"change_external_contact","ExternalUserID":"' + b"x" * 100 + b'"}'
            kept = [await spool.keep("wecom", f"k{n}", body, 1.0) for n in range(5)]
            n = kept.count(True)  # a line is a little over 200 bytes: 2 fit in 600
            assert n >= 2 and kept == [True] * n + [False] * (5 - n)
            assert await spool.drain() == n
            assert await client.xlen(queue.keys.stream) == n
            assert await spool.keep("wecom", "k9", body, 1.0)  # room again
            assert await spool.drain() == 1 and spool.empty
        finally:
            await client.aclose()
