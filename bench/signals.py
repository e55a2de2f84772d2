"""Shop signals: how many ``POST /signals`` accepts per second, and how fast a triggering signal
becomes a card on the guide's phone while background traffic flows.

1. **Accept rate**: ``scrm serve --role web`` alone; ``--connections`` keep-alive connections post
   signed batches of 100 signals (unique event ids) back to back for ``--duration`` s. A batch
   counts when the answer is 202 with all 100 accepted (validated and appended to the stream).
2. **Card delay**: ``scrm serve --role web`` plus ``scrm serve --role worker`` (two processes, as a
   deployment runs them) against the WeCom simulator in this process. ``--background`` signals/s of
   ordinary browsing (batches of 100) flow for the whole run; every ``--trigger-every`` s a dormant
   customer (no purchase for 200 days) browses again: a 唤醒 lead. The delay is from posting that
   signal to the simulator recording the ``message/send`` of the lead card to the owning guide.

Targets (issue 6): >= 20,000 signals/s accepted; card p95 < 3 s.

    .venv/bin/python -m bench.signals            # 10 s accept run; 30 s of 500/s with 80 triggers
    .venv/bin/python -m bench.signals --quick    # 5 s; 15 s with 40 triggers

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (as bench/welcome.py); the throwaway
database and Redis keys are removed at the end. Quiet hours are switched off in a copy of config/
so the run means the same at any time of day.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import aiohttp
import orjson

from bench.appproc import AES_KEY, AGENT_ID, CORP_ID, HOST, ROOT, SECRET, TOKEN, start_app, stop_app, wait_healthy
from bench.loadgen import closed_loop, open_loop, percentile
from bench.pgdb import BenchError, create_database, database_url, drop_database
from bench.private import free_port
from bench.welcome import delete_prefix
from bot.intake import signed_headers
from simulator.server import running_simulator
from simulator.state import SimulatorState

SHOP_SECRET = b"bench-shop-secret"
BATCH = 100
GUIDES = 200
DORMANT = 400
TARGET_RATE = 20_000
TARGET_P95_S = 3.0


def app_env(config_dir: Path) -> dict[str, str]:
    """What this bench sets beyond bench/welcome.py's start_app: the copied config, the shop's secret."""
    return {"SCRM_CONFIG_DIR": str(config_dir), "SCRM_SIGNAL_SECRETS": f"bench={SHOP_SECRET.decode()}",
            "SCRM_INTAKE_ENDPOINTS": "bench=/signals", "SCRM_SYNC_TAGS_ON_START": "false",
            "SCRM_QUIET_HOURS": ""}  # cards at any hour of the run


Launch = Callable[[str], "tuple[subprocess.Popen[bytes], int, Path]"]  # role → (process, port, log)


def signed_request(port: int, signals: list[dict[str, object]]) -> bytes:
    body = orjson.dumps({"signals": signals})
    signed = "".join(f"{name}: {value}\r\n" for name, value in
                     signed_headers("bench", SHOP_SECRET, body, time.time(), path="/signals").items())
    head = f"POST /signals HTTP/1.1\r\nHost: {HOST}:{port}\r\n{signed}Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def browse(event_id: str, external_userid: str, product: int, at: datetime) -> dict[str, object]:
    return {"event_id": event_id, "type": "browse", "occurred_at": at.isoformat(), "external_userid": external_userid,
            "product_id": f"P{product:05d}", "product_name": f"商品{product}", "category": f"C{product % 40}",
            "price": "199.00"}


_ALL_ACCEPTED = re.compile(rb'"accepted": ?100[,}]')


def all_accepted(status: int, body: bytes) -> bool:
    return status == 202 and _ALL_ACCEPTED.search(body) is not None


async def seed_customers(db_url: str, count: int) -> None:
    """Guides and customers (the first DORMANT asleep for 200 days), straight into the database."""
    from tortoise import Tortoise

    from bot.db import tortoise_config
    from customers.models import Customer, Guide, Relationship, Store

    await Tortoise.init(config=tortoise_config(db_url))
    try:
        store = await Store.get(code="sh01")
        await Guide.bulk_create([Guide(userid=f"bench_g{i:03d}", name=f"导购{i}", store=store) for i in range(GUIDES)])
        guides = dict(await Guide.filter(userid__startswith="bench_g").values_list("userid", "id"))
        now = datetime.now(UTC)
        asleep = now - timedelta(days=200)
        await Customer.bulk_create(
            [
                Customer(external_userid=f"wmBENCH{i:08d}", name=f"客户{i}", first_seen_at=now - timedelta(days=400),
                         last_purchase_at=asleep if i < DORMANT else now - timedelta(days=10), order_count=1)
                for i in range(count)
            ],
            batch_size=2000,
        )
        ids = dict(await Customer.filter(external_userid__startswith="wmBENCH").values_list("external_userid", "id"))
        await Relationship.bulk_create(
            [
                Relationship(guide_id=guides[f"bench_g{i % GUIDES:03d}"], customer_id=ids[f"wmBENCH{i:08d}"],
                             created_at=now - timedelta(days=400))
                for i in range(count)
            ],
            batch_size=2000,
        )
    finally:
        await Tortoise.close_connections()


@dataclass
class Trigger:
    guide: str
    sent_at: float
    card_at: float | None = None


async def accept_run(args: argparse.Namespace, launch: Launch,
                     http: aiohttp.ClientSession) -> tuple[float, int, int]:
    proc, port, log = launch("web")
    try:
        await wait_healthy(proc, f"http://{HOST}:{port}", log, http)
        requests_needed = int(TARGET_RATE * 2.5 * args.accept_duration / BATCH)
        now = datetime.now(UTC)
        rng = random.Random(1)
        requests = [
            signed_request(port, [browse(f"acc-{r}-{i}", f"wmBENCH{rng.randrange(args.customers):08d}",
                                         rng.randrange(2000), now) for i in range(BATCH)])
            for r in range(requests_needed)
        ]
        result = await closed_loop(HOST, port, requests, args.connections, args.accept_duration, accept=all_accepted)
        return result.ok * BATCH / result.elapsed_s, result.errors, result.ok
    finally:
        stop_app(proc)


async def card_run(args: argparse.Namespace, launch: Launch, state: SimulatorState,
                   http: aiohttp.ClientSession) -> tuple[list[Trigger], float, int]:
    web, port, web_log = launch("web")
    worker, _, worker_log = launch("worker")
    try:
        await wait_healthy(web, f"http://{HOST}:{port}", web_log, http)
        await asyncio.sleep(2)  # the worker connects and joins the consumer group
        if worker.poll() is not None:
            raise BenchError(f"the worker exited:\n{worker_log.read_text()[-2000:]}")
        now = datetime.now(UTC)
        rng = random.Random(2)
        batches = int(args.background * args.card_duration / BATCH) + 1
        background = [
            signed_request(port, [browse(f"bg-{r}-{i}", f"wmBENCH{rng.randrange(DORMANT, args.customers):08d}",
                                         rng.randrange(2000), now) for i in range(BATCH)])
            for r in range(batches)
        ]
        load = asyncio.create_task(open_loop(HOST, port, background, args.background / BATCH, args.card_duration,
                                             accept=all_accepted))
        triggers: list[Trigger] = []
        url = f"http://{HOST}:{port}/signals"
        await asyncio.sleep(1)
        for n in range(args.triggers):
            customer = n % DORMANT
            guide = f"bench_g{customer % GUIDES:03d}"
            body = orjson.dumps({"signals": [browse(f"trig-{n}", f"wmBENCH{customer:08d}", 7, datetime.now(UTC))]})
            headers = signed_headers("bench", SHOP_SECRET, body, time.time(), path="/signals")
            trigger = Trigger(guide, time.time())
            async with http.post(url, data=body, headers=headers) as response:
                if response.status != 202:
                    raise BenchError(f"trigger refused: {response.status} {await response.text()}")
            triggers.append(trigger)
            await asyncio.sleep(args.trigger_every)
        result = await load
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for t in triggers:
                if t.card_at is None:
                    cards = [m for m in state.messages_to(t.guide) if m.msgtype == "template_card"
                             and m.content.get("task_id", "").startswith("lead-") and m.sent_at >= t.sent_at]
                    if cards:
                        t.card_at = cards[0].sent_at
            if all(t.card_at is not None for t in triggers):
                break
            await asyncio.sleep(0.2)
        return triggers, result.ok * BATCH / result.elapsed_s, result.errors
    finally:
        stop_app(worker)
        stop_app(web)


async def bench(args: argparse.Namespace) -> int:
    tag = secrets.token_hex(3)
    db_name = f"scrm_bench_{tag}"
    prefixes = [f"bench-signals-{tag}-a", f"bench-signals-{tag}-b"]
    await create_database(args.pg, db_name)
    db_url = database_url(args.pg, db_name)
    workdir = Path(tempfile.mkdtemp(prefix="scrm-bench-signals-"))
    config_dir = workdir / "config"
    shutil.copytree(ROOT / "config", config_dir)
    state = SimulatorState(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID, callback_token=TOKEN,
                           encoding_aes_key=AES_KEY)
    for i in range(GUIDES):
        state.add_member(f"bench_g{i:03d}", f"导购{i}")
    try:
        async with running_simulator(state, port=free_port()) as sim, aiohttp.ClientSession() as http:
            def launcher(prefix: str) -> Launch:
                return partial(start_app, workdir, sim.url, db_url, args.redis_url, prefix, app_env(config_dir), None)

            # Migrate and seed once (a web process applies migrations and org.yaml at start).
            launch_a = launcher(prefixes[0])
            proc, port, log = launch_a("web")
            await wait_healthy(proc, f"http://{HOST}:{port}", log, http)
            stop_app(proc)
            started = time.perf_counter()
            await seed_customers(db_url, args.customers)
            print(f"seeded {args.customers} customers, {GUIDES} guides in {time.perf_counter() - started:.1f} s")

            rate, errors, batches = await accept_run(args, launch_a, http)
            print(f"\naccept: {rate:,.0f} signals/s ({batches} batches of {BATCH}, {errors} errors, "
                  f"{args.connections} connections, {args.accept_duration:.0f} s) — target >= {TARGET_RATE:,}: "
                  f"{'met' if rate >= TARGET_RATE else 'MISSED'}")

            launch_b = launcher(prefixes[1])
            triggers, bg_rate, bg_errors = await card_run(args, launch_b, state, http)
            delays = sorted(t.card_at - t.sent_at for t in triggers if t.card_at is not None)
            missing = sum(1 for t in triggers if t.card_at is None)
            p95 = percentile(delays, 95)
            print(f"\ncards: {len(delays)} of {len(triggers)} triggers became cards ({missing} missing) with "
                  f"{bg_rate:,.0f} background signals/s ({bg_errors} errors) for {args.card_duration:.0f} s")
            worst = (delays[-1] if delays else float("nan")) * 1000
            verdict = "met" if p95 < TARGET_P95_S and not missing else "MISSED"
            print(f"card delay p50 {percentile(delays, 50) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
                  f"p99 {percentile(delays, 99) * 1000:.0f} ms, max {worst:.0f} ms — target p95 < "
                  f"{TARGET_P95_S:.0f} s: {verdict}")
    finally:
        await drop_database(args.pg, db_name)
        for prefix in prefixes:
            await delete_prefix(args.redis_url, prefix)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=8, help="accept run: keep-alive connections")
    parser.add_argument("--accept-duration", type=float, default=10.0)
    parser.add_argument("--background", type=float, default=500.0, help="card run: background signals/s")
    parser.add_argument("--card-duration", type=float, default=30.0)
    parser.add_argument("--triggers", type=int, default=80)
    parser.add_argument("--trigger-every", type=float, default=0.3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if args.quick:
        args.accept_duration, args.card_duration, args.triggers = 5.0, 15.0, 40
    try:
        return asyncio.run(bench(args))
    except BenchError as err:
        print(f"bench: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
