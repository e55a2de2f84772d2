"""Backup and restore, tried: a PostgreSQL dump restored into a fresh database carries the product on.

docs/deploy.md says what to back up: PostgreSQL (pg_dump), Redis's AOF, the config folder. The worst
restore loses Redis entirely (no AOF kept): WeCom's re-sent callback is then new to ingest, and only
the database's records (the processed-event log, the send-once outbox) stop a second welcome.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import asyncpg
import pytest

from bot.app import create_app
from bot.crypto import CallbackCrypto
from config.settings import Settings
from simulator.callbacks import CallbackSender
from tests.conftest import AES_KEY, BACKEND, CORP_ID, PG_ADMIN_DSN, TOKEN, Stack, serve_app
from tests.test_customers import seed_store_sh01

pytestmark = pytest.mark.skipif(BACKEND == "embedded", reason="pg_dump and pg_restore need PostgreSQL")


async def _run(*command: str, stdin: bytes | None = None) -> bytes:
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin), 120)
    assert process.returncode == 0, err.decode()
    return out


@asynccontextmanager
async def restored_copy(database_url: str) -> AsyncIterator[str]:
    """pg_dump of ``database_url`` restored into a new database; dropped afterwards."""
    name = f"scrm_restore_{uuid.uuid4().hex[:10]}"
    dump = await _run("pg_dump", "--format=custom", "--dbname", database_url.replace("postgres://", "postgresql://"))
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        target = database_url.rsplit("/", 1)[0] + f"/{name}"
        await _run("pg_restore", "--no-owner", "--dbname", target.replace("postgres://", "postgresql://"), stdin=dump)
        yield target
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_restored_database_with_redis_lost_sends_nothing_twice_and_carries_on(
    stack: Stack, make_settings: Callable[..., Settings], database_url: str, sim: Any
) -> None:
    seed_store_sh01(stack)
    xml = stack.state.customer_scans_qr("guide_sh01_a", "wmBACKUP01", state="store_sh01", name="周小姐")
    await stack.deliver(xml)
    await stack.settle()
    assert len(stack.state.welcome_messages) == 1

    async with restored_copy(database_url) as restored:
        fresh_redis_prefix = f"test:restored:{uuid.uuid4().hex[:8]}"
        settings = make_settings(wecom_api_base=sim.url, database_url=restored, scrm_redis_prefix=fresh_redis_prefix)
        async with serve_app(create_app(settings)) as app, aiohttp.ClientSession() as http:
            sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http,
                                    timestamp_clock=sim.state.clock.now)
            restored_stack = Stack(app, sim, sender, http)
            await restored_stack.deliver(xml)  # WeCom re-sends; the new Redis has never seen it
            await restored_stack.settle()
            assert len(stack.state.welcome_messages) == 1

            await restored_stack.deliver(
                stack.state.customer_scans_qr("guide_sh01_a", "wmBACKUP02", state="store_sh01", name="李先生"))
            await restored_stack.settle()
            assert [m.text for m in stack.state.welcome_messages][-1].startswith("您好李先生")
            assert len(stack.state.welcome_messages) == 2
            keys = [key async for key in app.deps.redis.scan_iter(f"*{fresh_redis_prefix}*")]
            if keys:
                await app.deps.redis.delete(*keys)
