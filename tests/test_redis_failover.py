"""Redis with replicas and Sentinel: an acknowledged callback survives the primary's death.

Redis replicates asynchronously: an XADD acknowledged on the primary is lost if the primary dies
before a replica has it, and WeCom does not re-send a callback it got ``success`` for. So with
replicas the callback is answered only once ``SCRM_REDIS_MIN_REPLICAS`` have it (WAIT), and the
client follows Sentinel to the promoted replica. Private servers on free ports; real Redis only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.app import create_app
from config.settings import Settings
from tests.conftest import BACKEND, serve_app
from tests.support.callbacks import add_contact_xml, post_callback, signed
from tests.support.process import free_port

pytestmark = pytest.mark.skipif(BACKEND == "embedded", reason="needs redis-server processes (real backend)")

MASTER = "scrm-primary"


class Servers:
    """redis-server and Sentinel processes in a temporary folder, all stopped at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: dict[int, asyncio.subprocess.Process] = {}

    async def redis(self, *args: str) -> int:
        port = free_port()
        folder = self.workdir / str(port)
        folder.mkdir()
        await self._start(port, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
                          "--appendonly", "no", *args)
        return port

    async def sentinel(self, primary: int) -> int:
        port = free_port()
        config = self.workdir / f"sentinel-{port}.conf"
        config.write_text(
            f"port {port}\nbind 127.0.0.1\nsentinel monitor {MASTER} 127.0.0.1 {primary} 1\n"
            f"sentinel down-after-milliseconds {MASTER} 500\nsentinel failover-timeout {MASTER} 3000\n"
        )
        await self._start(port, str(config), "--sentinel")
        return port

    async def _start(self, port: int, *args: str) -> None:
        self.processes[port] = await asyncio.create_subprocess_exec(
            "redis-server", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        for _ in range(200):
            with contextlib.suppress(OSError):
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"redis-server on {port} did not start")

    def kill(self, port: int) -> None:
        self.processes[port].kill()

    async def close(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def servers(tmp_path: Path) -> AsyncIterator[Servers]:
    running = Servers(tmp_path)
    try:
        yield running
    finally:
        await running.close()


async def synced_replica(servers: Servers, primary: int) -> int:
    port = await servers.redis("--replicaof", "127.0.0.1", str(primary))
    client = aioredis.Redis(port=port, decode_responses=True)
    try:
        for _ in range(200):
            info = await client.info("replication")
            if info.get("master_link_status") == "up":
                return port
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    raise RuntimeError("the replica never synced")


async def stream_length(port: int, prefix: str) -> int:
    client = aioredis.Redis(port=port, decode_responses=True)
    try:
        length: int = await client.xlen(f"{{{prefix}}}:events")
        return length
    finally:
        await client.aclose()


async def test_a_callback_is_acknowledged_only_once_a_replica_has_it(
    tmp_path: Path, make_settings: Callable[..., Settings], redis_prefix: str, http: Any
) -> None:
    async with servers(tmp_path) as running:
        primary = await running.redis()
        settings = make_settings(redis_url=f"redis://127.0.0.1:{primary}/0", scrm_redis_min_replicas=1,
                                 scrm_redis_replica_wait_ms=1000, scrm_spool_dir="")
        async with serve_app(create_app(settings, role="web")) as app:
            # No replica: the append is on the primary only, so WeCom is told to re-send.
            status, _text = await post_callback(http, app, *signed(add_contact_xml("wm-lonely")))
            assert status == 503

            replica = await synced_replica(running, primary)
            assert await post_callback(http, app, *signed(add_contact_xml("wm-safe"))) == (200, "success")
            assert await stream_length(replica, redis_prefix) == 2  # the unacknowledged one (synced) and the new one


async def test_the_app_follows_a_sentinel_failover_and_loses_no_acknowledged_callback(
    tmp_path: Path, make_settings: Callable[..., Settings], redis_prefix: str, http: Any
) -> None:
    async with servers(tmp_path) as running:
        primary = await running.redis()
        replicas = [await synced_replica(running, primary) for _ in range(2)]
        sentinel = await running.sentinel(primary)
        # Without a spool: what is measured here is the client following the failover (with one, the
        # callbacks during it are kept on disk and answered: tests/test_spool.py).
        settings = make_settings(redis_url="memory://", redis_sentinels=f"127.0.0.1:{sentinel}",
                                 redis_sentinel_master=MASTER, scrm_spool_dir="")
        assert settings.min_replicas == 1
        async with serve_app(create_app(settings, role="web")) as app:
            acknowledged = 0
            for n in range(5):
                assert await post_callback(http, app, *signed(add_contact_xml(f"wm-before-{n}"))) == (200, "success")
                acknowledged += 1

            running.kill(primary)
            killed_at = time.monotonic()
            served_again = 0.0
            for n in range(300):
                status, _text = await post_callback(http, app, *signed(add_contact_xml(f"wm-after-{n}")))
                if status == 200:
                    acknowledged += 1
                    served_again = served_again or time.monotonic() - killed_at
                    if acknowledged >= 10:
                        break
                else:
                    assert status == 503  # not acknowledged: WeCom re-sends it
                await asyncio.sleep(0.05)
            assert served_again, "the app never reached the promoted replica"
            assert served_again < 10

        lengths = [await stream_length(port, redis_prefix) for port in replicas]
        assert max(lengths) >= acknowledged  # the new primary holds every acknowledged callback
