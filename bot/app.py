"""The app factory: builds the dependencies once, the routes, and (by role) the worker.

``open_deps`` is the one place that builds clients; the HTTP server, the worker and the CLI's
one-shot commands all use it, so every process is wired the same way.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Literal

import aiohttp
import structlog
from aiohttp import web

from bot.appconfig import load_app_config
from bot.appkeys import DEPS, DISPATCHER, SETTINGS, SPOOL, STOPPING, WORKER
from bot.clock import Clock, SystemClock
from bot.crypto import CallbackCrypto
from bot.db import close_db, init_db
from bot.deadletters import observe_queue
from bot.deps import Deps
from bot.dispatch import Dispatcher, Router, feature_routers
from bot.eventlog import ProcessedLog
from bot.feature import attributes, load_features
from bot.ingest import receive_callback, verify_url
from bot.intake import closed_intake_sources
from bot.metrics import Metrics
from bot.queue import EventQueue
from bot.redis_conn import connect_redis
from bot.reload import watching_config
from bot.scheduler import running_scheduler
from bot.spool import CallbackSpool, draining_spool
from bot.wecom.budget import api_budgets
from bot.wecom.client import RetryPolicy, WeComClient
from bot.worker import Worker, WorkerPolicy
from config.settings import Settings

__all__ = ["Role", "create_app", "open_deps", "build_worker"]

Role = Literal["all", "web", "worker"]
log = structlog.get_logger(__name__)
# How often a web process looks for spooled callbacks to move into the queue (a few stats when none).
SPOOL_DRAIN_EVERY_S = 2.0
# How long past its grace a worker's stop may take before the process stops without it.
WORKER_STOP_MARGIN_S = 5.0


@asynccontextmanager
async def open_deps(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool | None = None,
    routers: Sequence[Router] | None = None,
) -> AsyncIterator[Deps]:
    """Connect Redis, the database and an HTTP session; close them on exit, in reverse order.

    ``routers``: whose chat commands and hooks this process runs (every feature's by default)."""
    load_features()  # every registry complete and frozen before anything runs
    chosen = tuple(routers if routers is not None else feature_routers())
    config = load_app_config(settings.scrm_config_dir)  # before any connection: bad config, no start
    redis = connect_redis(settings.redis_url, max_connections=settings.scrm_redis_max_connections,
                          sentinels=settings.sentinel_addresses if settings.redis_sentinels else None,
                          master=settings.redis_sentinel_master)
    try:
        await init_db(settings.database_url, migrate=settings.scrm_auto_migrate if migrate is None else migrate)
        try:
            async with aiohttp.ClientSession() as http:
                queue = EventQueue(
                    redis, settings.scrm_redis_prefix, dedup_ttl_s=settings.scrm_dedup_ttl_s,
                    dead_maxlen=settings.scrm_dead_letter_maxlen, min_replicas=settings.min_replicas,
                    replica_wait_ms=settings.scrm_redis_replica_wait_ms,
                    blocking_reads=not settings.redis_url.startswith("memory://"),
                )
                metrics = Metrics()
                wecom = WeComClient(
                    http,
                    api_base=settings.wecom_api_base,
                    corp_id=settings.wecom_corp_id,
                    secret=settings.wecom_secret.get_secret_value(),
                    agent_id=settings.wecom_agent_id,
                    redis=redis,
                    redis_prefix=settings.scrm_redis_prefix,
                    timeout_s=settings.scrm_wecom_timeout_s,
                    retry=RetryPolicy(
                        settings.scrm_wecom_max_retries,
                        settings.scrm_wecom_backoff_base_s,
                        settings.scrm_wecom_backoff_max_s,
                    ),
                    budgets=api_budgets(redis, settings, on_refused=metrics.budget_refused),
                )
                crypto = CallbackCrypto(
                    settings.wecom_token.get_secret_value(),
                    settings.wecom_aes_key.get_secret_value(),
                    settings.wecom_corp_id,
                )
                deps = Deps(settings, clock or SystemClock(), redis, queue, crypto, http, wecom, metrics, config,
                            routers=chosen)
                for startup in attributes("startup"):  # each feature's start, e.g. config/org.yaml into the db
                    await startup(deps)
                yield deps
        finally:
            await close_db()
    finally:
        await redis.aclose()


def build_worker(deps: Deps, dispatcher: Dispatcher, *, consumer: str | None = None) -> Worker:
    s = deps.settings
    policy = WorkerPolicy(
        concurrency=s.scrm_worker_concurrency,
        max_attempts=s.scrm_max_attempts,
        retry_base_s=s.scrm_retry_base_s,
        retry_max_s=s.scrm_retry_max_s,
        heartbeat_s=s.scrm_heartbeat_ttl_s / 4,
        heartbeat_ttl_s=s.scrm_heartbeat_ttl_s,
        max_deliveries=s.scrm_max_deliveries,
        shutdown_grace_s=s.scrm_shutdown_grace_s,
    )
    return Worker(deps.queue, dispatcher, deps, ProcessedLog(deps.clock), policy, consumer=consumer)


def create_app(
    settings: Settings,
    *,
    role: Role = "all",
    clock: Clock | None = None,
    routers: Sequence[Router] | None = None,
) -> web.Application:
    """The aiohttp application for ``role``: web (ingest), worker, or both in one process."""
    # The largest body any route takes (signed intake batches); each route checks its own limit.
    app = web.Application(client_max_size=max(settings.scrm_callback_max_bytes, 2 * 1024 * 1024 + 1))
    app[SETTINGS] = settings
    app[STOPPING] = asyncio.Event()
    load_features()
    chosen = list(routers if routers is not None else feature_routers())
    app[DISPATCHER] = Dispatcher(chosen)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        async with open_deps(settings, clock=clock, routers=chosen) as deps, watching_config(deps):
            app[DEPS] = deps
            yield

    async def worker(app: web.Application) -> AsyncIterator[None]:
        deps = app[DEPS]
        consumer = build_worker(deps, app[DISPATCHER])
        app[WORKER] = consumer
        for startup in attributes("worker_startup"):
            await startup(deps)
        task = asyncio.create_task(consumer.run(), name="worker")
        async with AsyncExitStack() as stack:
            if settings.scrm_scheduler:
                await stack.enter_async_context(running_scheduler(deps))
            yield
        await stop_worker(consumer, task, settings.scrm_shutdown_grace_s + WORKER_STOP_MARGIN_S)

    async def spool(app: web.Application) -> AsyncIterator[None]:
        deps = app[DEPS]
        kept = CallbackSpool(Path(settings.scrm_spool_dir), deps.queue, max_bytes=settings.scrm_spool_max_mb << 20)
        app[SPOOL] = kept
        async with draining_spool(kept, SPOOL_DRAIN_EVERY_S):
            yield

    app.cleanup_ctx.append(resources)
    # The in-process stand-in cannot fail apart from this process: nothing to spool for. With replicas required
    # (Sentinel), a callback counts only once replicas hold it: one Redis cannot answer, so WeCom is told 503.
    if (role in ("all", "web") and settings.scrm_spool_dir and not settings.redis_url.startswith("memory://")
            and settings.min_replicas == 0):
        app.cleanup_ctx.append(spool)
    if role in ("all", "worker"):
        app.cleanup_ctx.append(worker)
    app.cleanup_ctx.append(freeze_startup_objects)
    if role in ("all", "web"):
        app.router.add_get("/wecom/callback", verify_url)
        app.router.add_post("/wecom/callback", receive_callback)
        for add_routes in attributes("routes"):  # each feature's intake endpoints and pages
            add_routes(app, settings)
        for source in closed_intake_sources(settings):  # intake is closed by default: say so once, at start
            log.warning("intake_source_has_no_paths", source=source, setting="SCRM_INTAKE_ENDPOINTS")
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def stop_worker(consumer: Worker, task: asyncio.Task[None], within_s: float) -> None:
    """Stop ``consumer`` (it drains within its grace); past ``within_s`` the process goes on stopping
    without it, loudly: what it holds stays pending, for another worker's take-over."""
    consumer.stop()
    done, _ = await asyncio.wait({task}, timeout=within_s)
    if done:
        task.result()  # a crash in the worker surfaces here, as before
        return
    log.error("worker_stop_timed_out", waited_s=within_s, inflight=consumer.inflight_count)
    task.cancel()
    await asyncio.wait({task}, timeout=WORKER_STOP_MARGIN_S)


async def freeze_startup_objects(app: web.Application) -> AsyncIterator[None]:
    """Move everything built at start (modules, models, clients) out of the GC's reach: the
    collector then scans only what requests allocate, instead of re-walking the whole app.

    Once per process: a server process starts one app, and a full collection per app started (as
    tests start hundreds in one process) walks an ever larger heap for nothing new to freeze."""
    if not gc.get_freeze_count():
        gc.collect()
        gc.freeze()
    yield


async def healthz(request: web.Request) -> web.Response:
    """``ok`` (200) or ``unavailable`` (503) for anyone, e.g. a load balancer; the details (queue depth,
    dead letters, the Redis error) only for the bearer of ``SCRM_METRICS_TOKEN``, like ``/metrics``.
    ``stopping`` (503) while a stopping process drains, so the proxy takes it out of rotation. With Redis
    down, a web process whose spool has room answers ``ok (spooling)`` (200): it still takes callbacks."""
    if request.app[STOPPING].is_set():
        return web.Response(text="stopping", status=503)
    deps = request.app[DEPS]
    detailed = _bearer_of_metrics_token(request, deps.settings.scrm_metrics_token.get_secret_value())
    try:
        await deps.redis.ping()
    except Exception as err:  # noqa: BLE001 - a health probe reports, it does not raise
        spool = request.app.get(SPOOL)
        if spool is not None and spool.has_room:
            # Callbacks still land, in this process's spool: it stays in the proxy's rotation.
            if detailed:
                return web.json_response({"ok": True, "redis": type(err).__name__, "spooled_bytes": spool.kept_bytes})
            return web.Response(text="ok (spooling)")
        if detailed:
            return web.json_response({"ok": False, "redis": type(err).__name__}, status=503)
        return web.Response(text="unavailable", status=503)
    if not detailed:
        return web.Response(text="ok")
    return web.json_response({"ok": True, "queue": await deps.queue.depth()})


def _bearer_of_metrics_token(request: web.Request, token: str) -> bool:
    # Bytes, and any header text (non-ASCII too) made bytes: compare_digest refuses non-ASCII str.
    given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
    return bool(token) and hmac.compare_digest(given, f"Bearer {token}".encode())


async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics, for ``Authorization: Bearer $SCRM_METRICS_TOKEN`` only; off without a token."""
    deps = request.app[DEPS]
    token = deps.settings.scrm_metrics_token.get_secret_value()
    if not token:
        raise web.HTTPNotFound(text="metrics are off: set SCRM_METRICS_TOKEN")
    if not _bearer_of_metrics_token(request, token):
        raise web.HTTPUnauthorized(text="bearer token required", headers={"WWW-Authenticate": "Bearer"})
    await observe_queue(deps)
    return web.Response(body=deps.metrics.render(), content_type="text/plain")
