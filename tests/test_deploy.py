"""Deploys: what an operator meets when the processes are split and replaced (issue: deploys lose nothing)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import no_backend
from tests.support.process import scrm_process
from tests.test_cli import GOOD_ENV, run_scrm

# Valid values of our own (not Tencent's public sample): the start refuses those outside the simulator.
# Each test starts `scrm` on SQLite and the in-process Redis, or refuses to start.
pytestmark = no_backend
SPLIT_ENV = GOOD_ENV | {"WECOM_TOKEN": "DeployTestToken0123456789", "WECOM_AES_KEY": "a" * 43}


@pytest.mark.parametrize("role", ["web", "worker"])
def test_a_split_role_without_a_shared_redis_refuses_to_start_naming_the_setting(role: str) -> None:
    result = run_scrm("serve", "--role", role, env=SPLIT_ENV | {"DATABASE_URL": "postgres://x@127.0.0.1:1/x"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"--role {role}" in lines[0] and "REDIS_URL" in lines[0]


def test_a_split_role_on_sqlite_refuses_to_start_naming_the_setting() -> None:
    result = run_scrm("serve", "--role", "worker", env=SPLIT_ENV | {"REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_setting_this_version_does_not_know_stops_the_start() -> None:
    result = run_scrm("serve", env=SPLIT_ENV | {"REDIS_SENTINELZ": "127.0.0.1:26379"})
    assert result.returncode == 2
    assert "unknown setting REDIS_SENTINELZ" in result.stderr


async def test_a_stopping_web_process_drains_then_finishes_the_request_in_flight(tmp_path: Path) -> None:
    """SIGTERM: /healthz turns 503 (the proxy drains us), a request half-sent is still answered, exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "SCRM_", "DATABASE_", "REDIS_"))}
    env |= SPLIT_ENV | {"DATABASE_URL": f"sqlite://{tmp_path / 'scrm.sqlite3'}", "REDIS_URL": "memory://",
                        "SCRM_SCHEDULER": "false", "SCRM_DRAIN_S": "1.5"}
    async with scrm_process("--role", "all", env=env, cwd=tmp_path) as app:
        reader, writer = await asyncio.open_connection("127.0.0.1", app.port)
        body = b"<xml><Encrypt><![CDATA[not-a-real-message]]></Encrypt></xml>"
        writer.write(b"POST /wecom/callback?msg_signature=x&timestamp=1&nonce=n HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: text/xml\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10])
        await writer.drain()
        await asyncio.sleep(0.2)  # the request is in flight: headers read, body not yet whole

        app.process.send_signal(signal.SIGTERM)
        async with aiohttp.ClientSession() as http:
            for _ in range(20):
                async with http.get(f"{app.url}/healthz") as response:
                    if response.status == 503:
                        assert await response.text() == "stopping"
                        break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("/healthz never said the process is stopping")

        writer.write(body[10:])
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        # The app answered it (a refused signature is the app's own 4xx), not a reset or a 5xx.
        assert status_line.startswith(b"HTTP/1.1 4"), status_line
        assert await asyncio.wait_for(app.process.wait(), 30) == 0
