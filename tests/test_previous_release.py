"""During a rolling deploy the previous release's worker runs against this release's schema.

The database is migrated by this release; a web process of this release takes WeCom's callback;
the worker that handles it is the previous release's code (``deploy/previous-release``), taken from
git and started as its own process with nothing of this checkout on its path. The customer must be
recorded and welcomed once, exactly as before the deploy.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sysconfig
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app
from config.settings import Settings
from tests.conftest import AGENT_ID, BACKEND, CORP_ID, serve_app
from tests.support.process import scrm_process
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(BACKEND == "embedded", reason="two processes share PostgreSQL and Redis (real backend)")


def previous_release(into: Path) -> Path:
    """The previous release's files, from git (a clone of this repository has them)."""
    lines = (ROOT / "deploy" / "previous-release").read_text().splitlines()
    commit = next(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=False)
    if archive.returncode:
        pytest.fail(f"the previous release {commit[:12]} is not in this clone's history "
                    f"({archive.stderr.decode().strip()}): fetch it, or fix deploy/previous-release")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


async def test_the_previous_releases_worker_welcomes_a_customer_on_the_new_schema(
    tmp_path: Path, make_settings: Callable[..., Settings], sim: Any, database_url: str, redis_prefix: str
) -> None:
    old = previous_release(tmp_path / "previous")
    settings = make_settings(wecom_api_base=sim.url)  # this release; its database is already migrated
    sim.state.add_member("guide_sh01_a", "王小美")
    sim.state.add_member("manager_sh01", "张店长")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(old), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]),
        "WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": str(AGENT_ID),
        "WECOM_SECRET": settings.wecom_secret.get_secret_value(),
        "WECOM_TOKEN": settings.wecom_token.get_secret_value(),
        "WECOM_AES_KEY": settings.wecom_aes_key.get_secret_value(), "WECOM_API_BASE": sim.url,
        "DATABASE_URL": database_url, "REDIS_URL": settings.redis_url, "SCRM_REDIS_PREFIX": redis_prefix,
        "SCRM_AUTO_MIGRATE": "false", "SCRM_SCHEDULER": "false", "SCRM_SYNC_TAGS_ON_START": "false",
        "SCRM_RETRY_BASE_S": "0.05", "SCRM_RETRY_MAX_S": "0.2",
    }
    async with (
        serve_app(create_app(settings, role="web")) as web,
        scrm_process("--role", "worker", env=env, cwd=tmp_path, python_flags=("-S",)) as old_worker,
    ):
        import aiohttp

        from bot.crypto import CallbackCrypto
        from simulator.callbacks import CallbackSender

        async with aiohttp.ClientSession() as http:
            sender = CallbackSender(
                CallbackCrypto(settings.wecom_token.get_secret_value(), settings.wecom_aes_key.get_secret_value(),
                               CORP_ID), web.callback_url, http, timestamp_clock=sim.state.clock.now)
            xml = sim.state.customer_scans_qr("guide_sh01_a", "wmPREV001", state="store_sh01", name="周小姐")
            assert (await sender.send(xml)).delivered
            assert (await sender.send(xml)).delivered  # WeCom's re-send: still one welcome

            async def welcomed() -> bool:
                return len(sim.state.welcome_messages) >= 1

            await eventually(welcomed, within=60)
            await asyncio.sleep(1)
        assert len(sim.state.welcome_messages) == 1
        assert "周小姐" in sim.state.welcome_messages[0].text
        assert await old_worker.stop() == 0
