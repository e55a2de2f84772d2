"""Test wiring: real PostgreSQL and Redis (a fresh database and key prefix per test), the WeCom simulator.

``SCRM_TEST_BACKEND=embedded`` runs the same suite on SQLite and the in-process Redis stand-in.
Services that are down fail the run loudly; nothing is skipped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from config.settings import Settings

PG_ADMIN_DSN = os.environ.get("SCRM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SCRM_TEST_REDIS", "redis://127.0.0.1:6379/0")
BACKEND = os.environ.get("SCRM_TEST_BACKEND", "real")
RUN_ID = uuid.uuid4().hex[:8]

# Two passes share CI's 15 minutes, so a test runs on both only where the backend can change its outcome.
# A test that touches no database or Redis runs once, on the embedded pass (the lighter of the two):
no_backend = pytest.mark.skipif(BACKEND != "embedded", reason="no database or Redis involved; on the embedded pass")
# A scenario at volume (hundreds of customers or more) runs on the production backend; the embedded pass
# runs the same code paths through the feature's smaller tests:
volume = pytest.mark.skipif(BACKEND == "embedded", reason="a volume scenario; runs on the PostgreSQL + Redis pass")

# The test app's credentials: made up for these tests (valid in form, public, never a real corp's). Not
# Tencent's sample Token/AES key, which the start refuses outside the simulator; the crypto-vector tests
# (tests/test_crypto.py, tests/data/wecom_test_vectors.json) use those directly.
TOKEN = "WAKCyygY5JXwuhBeh977Zo5mI21KO7C8"
AES_KEY = "4TH14ukkpNVm5j2/2D2rXzVx369NdnOJn4J1/yuXNDQ"
CORP_ID = "ww1436e0e65a779aee"
AGENT_ID = 1000002
SECRET = "test-secret-Ao6b95HKuWrpphrCxv0UkFJHxOQBkw5zM0b"
METRICS_TOKEN = "test-metrics-token"  # /metrics answers only its bearer
INTAKE_PATHS = "/signals /intake/orders /intake/chat-archive /intake/members"


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def pytest_sessionstart(session: pytest.Session) -> None:
    if BACKEND == "embedded":
        return
    missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not _port_open("127.0.0.1", port)]
    if missing:
        raise pytest.UsageError(
            f"{' and '.join(missing)} not reachable on 127.0.0.1: start them (.ci/run does) — tests never skip them"
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """Embedded: a SQLite file migrated once per run; each test gets a copy of the file.

    Running the migrations takes seconds on SQLite (a table rebuild per altered column); done
    per test it was most of the embedded run's time."""
    if BACKEND != "embedded":
        return None
    path = tmp_path_factory.mktemp("template") / "scrm.sqlite3"
    from bot.db import migrate

    asyncio.run(migrate(f"sqlite://{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A database migrated once per run; each test gets a copy (CREATE DATABASE … TEMPLATE)."""
    if BACKEND == "embedded":
        yield None
        return
    name = f"scrm_test_{RUN_ID}_tpl"

    async def create() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        from bot.db import migrate

        await migrate(_dsn(name))

    asyncio.run(create())
    yield name
    asyncio.run(_drop_database(name))


def _dsn(database: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgres://")
    return f"{base}/{database}"


async def _drop_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def database_url(pg_template: str | None, sqlite_template: Path | None, tmp_path: Path) -> AsyncIterator[str]:
    if sqlite_template is not None:
        shutil.copyfile(sqlite_template, tmp_path / "scrm.sqlite3")
        yield f"sqlite://{tmp_path}/scrm.sqlite3"
        return
    assert pg_template is not None
    name = f"scrm_test_{RUN_ID}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    finally:
        await conn.close()
    yield _dsn(name)
    await _drop_database(name)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    prefix = f"test:{RUN_ID}:{uuid.uuid4().hex[:8]}"
    yield prefix
    if BACKEND == "embedded":
        return
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{{{prefix}}}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def make_settings(database_url: str, redis_prefix: str, tmp_path: Path) -> Callable[..., Settings]:
    """Settings for this test: real services (or embedded), the simulator's credentials, fast retries."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "wecom_corp_id": CORP_ID,
            "wecom_agent_id": AGENT_ID,
            "wecom_secret": SECRET,
            "wecom_token": TOKEN,
            "wecom_aes_key": AES_KEY,
            "wecom_api_base": "http://127.0.0.1:9",  # the simulator fixture overrides this
            "database_url": database_url,
            "redis_url": "memory://" if BACKEND == "embedded" else REDIS_URL,
            "scrm_redis_prefix": redis_prefix,
            "scrm_retry_base_s": 0.05,
            "scrm_retry_max_s": 0.2,
            "scrm_wecom_backoff_base_s": 0.01,
            "scrm_wecom_backoff_max_s": 0.05,
            "scrm_shutdown_grace_s": 2.0,
            "scrm_sync_tags_on_start": False,
            "scrm_scheduler": False,
            "scrm_signal_secrets": "shop=test-shop-secret,pos=test-pos-secret",
            # Closed by default: each source posts only to the paths listed for it, as an operator sets them.
            "scrm_intake_endpoints": f"shop={INTAKE_PATHS},pos={INTAKE_PATHS}",
            "scrm_metrics_token": METRICS_TOKEN,
            "scrm_spool_dir": str(tmp_path / "spool"),  # this test's own (bot/spool.py)
            "scrm_sidebar_local": True,  # the sidebar on the test server's own http://127.0.0.1 address
            "scrm_sidebar_secret": "test-sidebar-secret-of-32-bytes!",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


class RunningApp:
    """The real app served on a loopback port."""

    def __init__(self, app: Any, url: str) -> None:
        self.app = app
        self.url = url

    @property
    def deps(self) -> Any:
        from bot.appkeys import DEPS

        return self.app[DEPS]

    @property
    def callback_url(self) -> str:
        return f"{self.url}/wecom/callback"


def serve_app(app: Any) -> Any:
    """``async with serve_app(create_app(...)) as running:`` — startup and cleanup as in production."""
    from contextlib import asynccontextmanager

    from aiohttp import web

    @asynccontextmanager
    async def context() -> AsyncIterator[RunningApp]:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield RunningApp(app, f"http://127.0.0.1:{port}")
        finally:
            await runner.cleanup()

    return context()


@pytest.fixture
async def web_app(make_settings: Callable[..., Settings]) -> AsyncIterator[RunningApp]:
    """The web role alone (ingest, no worker): what reaches the queue stays there to be looked at."""
    from bot.app import create_app

    async with serve_app(create_app(make_settings(), role="web")) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[Any]:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    """The WeCom simulator on a loopback port, holding this test's corp."""
    from simulator.server import running_simulator
    from simulator.state import SimulatorState

    state = SimulatorState(
        corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID, callback_token=TOKEN, encoding_aes_key=AES_KEY
    )
    async with running_simulator(state) as server:
        yield server


class Stack:
    """The whole product as WeCom sees it: our app (web + worker) and the simulator around it."""

    def __init__(self, app: RunningApp, sim: Any, sender: Any, http: Any) -> None:
        self.app = app
        self.sim = sim
        self.sender = sender
        self.http = http

    @property
    def state(self) -> Any:
        return self.sim.state

    @property
    def deps(self) -> Any:
        return self.app.deps

    async def deliver(self, inner_xml: str) -> Any:
        """WeCom sends a callback (and re-sends it if we do not answer in time)."""
        report = await self.sender.send(inner_xml)
        assert report.delivered, report
        return report

    async def settle(self, within: float = 10.0) -> None:
        """Wait until the worker has nothing left: the stream is empty and nothing is in flight."""
        from tests.support.waiting import eventually

        async def idle() -> bool:
            depth = await self.deps.queue.depth()
            return depth["stream"] == 0 and depth["retry"] == 0

        await eventually(idle, within=within)


@pytest.fixture
def app_clock() -> Any:
    """The app's clock (None: the system clock); a test module may override it to move time."""
    return None


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], sim: Any, app_clock: Any) -> AsyncIterator[Stack]:
    import aiohttp

    from bot.app import create_app
    from bot.crypto import CallbackCrypto
    from simulator.callbacks import CallbackSender

    settings = make_settings(wecom_api_base=sim.url)
    async with serve_app(create_app(settings, clock=app_clock)) as app, aiohttp.ClientSession() as http:
        # Signed at the app's clock: tests that move time move WeCom's and the app's together.
        sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http,
                                timestamp_clock=app.deps.clock.timestamp)
        yield Stack(app, sim, sender, http)
