"""Chaos: 300 customers scan a store code while workers, PostgreSQL, Redis and WeCom fail.

Production shape, all on loopback and all private to this run (started and removed by the script):
- PostgreSQL: ``initdb`` into a temp dir, its own port (default 55432), ``pg_ctl`` from
  /usr/lib/postgresql/*/bin (as the postgres user when run as root);
- Redis: ``redis-server`` with AOF and ``appendfsync always``, its own port and temp dir;
- the app: ``scrm serve --role web`` and two ``scrm serve --role worker`` processes;
- WeCom: the simulator (in this process) and its callback sender, which signs and encrypts as WeCom
  does and re-sends a callback not answered 200 (up to 3 times, ``--resend-delay`` apart).

Every add is delivered three times at once (WeCom's re-sends crossing each other). During the
burst, one after another: WeCom answers -1 / 45009 / 42001 / HTTP 502 / 2 s late to some calls;
a worker is killed with SIGKILL (and restarted a second later, as a supervisor would); PostgreSQL
restarts (``pg_ctl restart -m fast``); Redis is killed with SIGKILL and restarted; the other worker
is killed and restarted; WeCom's faults stop. The moment the last of these ends is "the last fault".

Checks: every acknowledged add (at least one delivery answered 200) ends with exactly one welcome
and exactly one relation; nothing is dead-lettered; and the last welcome leaves within 20 s of the
last fault. The exit status says whether that target was met (0), missed (1), or the run could
not be made (2). The run stops by itself (``--max-seconds``).

    .venv/bin/python -m bench.chaos            # or: make chaos   (~2-3 minutes)
    .venv/bin/python -m bench.chaos --customers 100 --settle 60
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from bench.appproc import HOST, callback_sender, migrate, new_corp, run_drill, start_app, stop_app, wait_healthy
from bench.loadgen import percentile
from bench.pgdb import create_database, database_url
from bench.private import PrivatePostgres, PrivateRedis
from bot.deadletters import events_command
from bot.queue import EventQueue
from simulator.callbacks import CallbackSender, DeliveryReport
from simulator.server import running_simulator
from simulator.state import SimulatorState

TARGET_S = 20.0
WELCOME_API = "externalcontact/send_welcome_msg"


@dataclass
class Scan:
    external_userid: str
    userid: str
    sent_at: float = 0.0
    reports: list[DeliveryReport] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return any(report.delivered for report in self.reports)


@dataclass
class Fault:
    name: str
    started: float
    ended: float


@dataclass
class App:
    """The app's processes: one web, two workers (a killed worker is restarted in its slot)."""

    workdir: Path
    sim_url: str
    db_url: str
    redis_url: str
    prefix: str
    env: dict[str, str]
    web: subprocess.Popen[bytes] | None = None
    web_url: str = ""
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def start(self, role: str) -> tuple[subprocess.Popen[bytes], str, Path]:
        proc, port, log = start_app(self.workdir, self.sim_url, self.db_url, self.redis_url, self.prefix, self.env,
                                    None, role=role)
        self.logs.append(log)
        return proc, f"http://{HOST}:{port}", log

    def stop(self) -> None:
        for proc in [self.web, *self.workers]:
            if proc is not None:
                stop_app(proc)


# --- the run ------------------------------------------------------------------------------------------


async def deliver_thrice(state: SimulatorState, sender: CallbackSender, scan: Scan, channel: str) -> None:
    inner = state.customer_scans_qr(scan.userid, scan.external_userid, state=channel)
    scan.sent_at = time.time()
    scan.reports = list(await asyncio.gather(*(sender.send(inner) for _ in range(3))))


async def burst(state: SimulatorState, sender: CallbackSender, scans: list[Scan], channel: str, rate: float) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = []
    for i, scan in enumerate(scans):
        delay = started + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(deliver_thrice(state, sender, scan, channel)))
    await asyncio.gather(*tasks)


async def faults(args: argparse.Namespace, state: SimulatorState, app: App, pg: PrivatePostgres,
                 redis: PrivateRedis) -> list[Fault]:
    """The fault schedule, ``--fault-gap`` seconds apart from the start of the burst."""
    done: list[Fault] = []
    gap = args.fault_gap

    async def timed(name: str, action: Callable[[], Awaitable[None]]) -> None:
        started = time.time()
        await action()
        done.append(Fault(name, started, time.time()))
        print(f"  fault: {name} ({done[-1].ended - started:.1f} s)", flush=True)

    async def wecom_faults() -> None:
        state.faults.inject("*", errcode=-1, rate=0.05)
        state.faults.inject("*", errcode=45009, rate=0.03)
        state.faults.inject("*", errcode=42001, count=20)
        state.faults.inject("*", http_status=502, rate=0.03)
        state.faults.inject("*", latency=2.0, rate=0.03)

    def kill_worker(slot: int) -> Callable[[], Awaitable[None]]:
        async def action() -> None:
            app.workers[slot].kill()  # SIGKILL
            app.workers[slot].wait()
            await asyncio.sleep(args.restart_delay)
            app.workers[slot] = app.start("worker")[0]

        return action

    async def restart_pg() -> None:
        await asyncio.to_thread(pg.restart_fast)

    async def kill_redis() -> None:
        await asyncio.to_thread(redis.kill)
        await asyncio.sleep(args.restart_delay)
        await asyncio.to_thread(redis.start)

    async def clear_wecom() -> None:
        state.faults.clear()

    # WeCom misbehaves from the start of the burst until the end of the schedule.
    await timed("WeCom answers -1 / 45009 / 42001 / 502 / 2 s late to some calls (from now)", wecom_faults)
    schedule: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("worker 1 killed (SIGKILL), restarted", kill_worker(0)),
        ("PostgreSQL restarted (pg_ctl restart -m fast)", restart_pg),
        ("Redis killed (SIGKILL), restarted", kill_redis),
        ("worker 2 killed (SIGKILL), restarted", kill_worker(1)),
        ("WeCom faults cleared", clear_wecom),
    ]
    for name, action in schedule:
        await asyncio.sleep(gap)
        await timed(name, action)
    return done


async def settle(args: argparse.Namespace, state: SimulatorState, scans: list[Scan], db_url: str,
                 last_fault: float) -> dict[str, int]:
    """Wait until every acknowledged add has its welcome and relation (or ``--settle`` after the last fault)."""
    wanted = {s.external_userid for s in scans if s.acknowledged}
    relations: dict[str, int] = {}
    while True:
        welcomed = {w.external_userid for w in state.welcome_messages} & wanted
        relations = await count_relations(db_url, wanted)
        if (welcomed == wanted and set(relations) == wanted) or time.time() > last_fault + args.settle:
            return relations
        await asyncio.sleep(0.5)


async def count_relations(db_url: str, wanted: set[str]) -> dict[str, int]:
    try:
        conn = await asyncpg.connect(db_url.replace("postgres://", "postgresql://"))
    except (OSError, asyncpg.PostgresError):
        return {}
    try:
        rows = await conn.fetch(
            "SELECT c.external_userid, count(*) AS n FROM relationship r JOIN customer c ON c.id = r.customer_id "
            "WHERE c.external_userid = ANY($1::text[]) GROUP BY c.external_userid", sorted(wanted))
    finally:
        await conn.close()
    return {row["external_userid"]: int(row["n"]) for row in rows}


async def dead_letter_report(redis_url: str, prefix: str) -> tuple[int, str]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        queue = EventQueue(client, prefix)
        out = io.StringIO()
        await events_command(queue, "dead", out)
        count = int(await client.xlen(queue.keys.dead))
        out.write(f"\n{'':2}queue now: ")
        stats = io.StringIO()
        await events_command(queue, "stats", stats)
        out.write(" | ".join(line.strip() for line in stats.getvalue().splitlines()))
    finally:
        await client.aclose()
    return count, out.getvalue()


def log_counts(paths: Sequence[Path]) -> Counter[str]:
    names = ("event_retry_scheduled", "event_reclaimed", "event_processing_crashed", "event_dead_lettered",
             "event_poison", "redis_unavailable", "handler_failed")
    counts: Counter[str] = Counter()
    for path in paths:
        text = path.read_text(errors="replace") if path.exists() else ""
        for name in names:
            counts[name] += text.count(name)
    return counts


def keep_logs(where: Path, paths: Sequence[Path]) -> None:
    where.mkdir(parents=True, exist_ok=True)
    for number, path in enumerate(paths):
        if path.exists():
            shutil.copy(path, where / f"{number:02d}-{path.name}")
    print(f"logs kept in {where}", flush=True)


async def run(args: argparse.Namespace, tmp: Path) -> int:  # one story, told in order
    wall = time.monotonic()
    pg = PrivatePostgres(tmp, port=args.pg_port)
    redis = PrivateRedis(tmp, appendfsync="always", port=args.redis_port)
    app: App | None = None
    try:
        pg.init()
        pg.start()
        redis.start()
        await create_database(pg.admin_dsn, "scrm")
        db_url = database_url(pg.admin_dsn, "scrm")
        await asyncio.to_thread(migrate, tmp, db_url, redis.url)
        print(f"private PostgreSQL on :{pg.port}, private Redis on :{redis.port} (AOF, appendfsync always)",
              flush=True)
        state, guides, channels = new_corp()
        store_channel = next((c for c in channels if c.startswith("store")), channels[0])
        async with running_simulator(state) as sim, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0)
        ) as http:
            prefix = f"chaos-{secrets.token_hex(3)}"
            env = {"SCRM_AUTO_MIGRATE": "false", "LOG_LEVEL": "INFO"}
            app = App(tmp, sim.url, db_url, redis.url, prefix, env)
            app.web, app.web_url, web_log = app.start("web")
            started = [app.start("worker") for _ in range(2)]
            app.workers = [proc for proc, _, _ in started]
            await wait_healthy(app.web, app.web_url, web_log, http)
            for proc, url, log in started:
                await wait_healthy(proc, url, log, http)
            sender = callback_sender(state, app.web_url, http, timeout=5.0, max_resends=3,
                                     resend_delay=args.resend_delay)
            print(f"app: web {app.web_url} + 2 workers; simulator {sim.url}; {args.customers} customers scan "
                  f"{store_channel} at {args.rate:g}/s, each add delivered 3 times at once", flush=True)
            warm = [Scan(f"wmWARM{i:04d}", guides[i % len(guides)]) for i in range(10)]
            await burst(state, sender, warm, store_channel, 10)
            await settle(args, state, warm, db_url, time.time() - args.settle + 20)
            state.clear_calls()

            scans = [Scan(f"wmCHAOS{i:05d}", guides[i % len(guides)]) for i in range(args.customers)]
            welcomes_before = len(state.welcome_messages)
            burst_started = time.time()
            sending = asyncio.create_task(burst(state, sender, scans, store_channel, args.rate))
            done_faults = await faults(args, state, app, pg, redis)
            await sending
            burst_seconds = time.time() - burst_started
            last_fault = max(f.ended for f in done_faults)
            print(f"burst sent in {burst_seconds:.1f} s; waiting up to {args.settle:g} s after the last fault ...",
                  flush=True)
            relations = await settle(args, state, scans, db_url, last_fault)
            await asyncio.sleep(2)  # a straggler or a double would show up now
            relations = await count_relations(db_url, {s.external_userid for s in scans if s.acknowledged})
            dead, dead_text = await dead_letter_report(redis.url, prefix)
            welcomes = state.welcome_messages[welcomes_before:]
    finally:
        if app is not None:
            app.stop()
        redis.stop()
        pg.stop()
        if args.logs:
            keep_logs(args.logs, [*(app.logs if app else []), pg.log, redis.log])

    by_customer = {s.external_userid: s for s in scans}
    per_customer = Counter(w.external_userid for w in welcomes if w.external_userid in by_customer)
    acked = [s for s in scans if s.acknowledged]
    lost = [s.external_userid for s in acked if per_customer[s.external_userid] == 0]
    doubled = [c for c, n in per_customer.items() if n > 1]
    no_relation = [s.external_userid for s in acked if relations.get(s.external_userid, 0) == 0]
    two_relations = [c for c, n in relations.items() if n > 1]
    first_welcome = {}
    for w in welcomes:
        first_welcome.setdefault(w.external_userid, w.sent_at)
    latencies = sorted(first_welcome[c] - by_customer[c].sent_at for c in first_welcome if c in by_customer)
    last_welcome = max((w.sent_at for w in welcomes), default=float("nan"))
    after_fault = last_welcome - last_fault
    deliveries = [r for s in scans for r in s.reports]
    code_errors = state.calls_to(WELCOME_API, errcode=41051)
    refused_for = {state.welcome_codes[c.body["welcome_code"]].external_userid for c in code_errors
                   if c.body and c.body.get("welcome_code") in state.welcome_codes}
    tried_for = {state.welcome_codes[c.body["welcome_code"]].external_userid for c in state.calls_to(WELCOME_API)
                 if c.body and c.body.get("welcome_code") in state.welcome_codes}
    counts = log_counts(app.logs if app else [])

    print()
    print(f"chaos — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores; web + 2 workers, private "
          f"PostgreSQL and Redis (AOF always), simulator in the bench process")
    print(f"faults ({args.fault_gap:g} s apart from the start of the burst):")
    for fault in done_faults:
        print(f"  +{fault.started - burst_started:5.1f} s  {fault.name}")
    print(f"customers {len(scans)}; deliveries {len(deliveries)}, answered 200 {sum(r.delivered for r in deliveries)}"
          f" (after re-sends); adds acknowledged {len(acked)}")
    print(f"welcomes: exactly one {sum(1 for s in acked if per_customer[s.external_userid] == 1)}, "
          f"lost {len(lost)}, doubled {len(doubled)}; send_welcome_msg refused 41051 (code expired or used) "
          f"{len(code_errors)} times")
    # WeCom refuses a used code, so a customer never sees a second welcome; a try after the welcome
    # went is still a send-once slip worth knowing about.
    sent_at = {w.welcome_code: w.sent_at for w in welcomes}
    again = sum(1 for c in code_errors if c.body and c.at > sent_at.get(str(c.body.get("welcome_code")), c.at + 1))
    print(f"  send_welcome_msg tried again after the welcome had gone (refused as used): {again}")
    if lost:
        expired = sum(1 for c in lost if c in refused_for)
        never = sum(1 for c in lost if c not in tried_for)
        print(f"  of the lost: tried after the code's 20 s {expired}, never tried {never}, "
              f"other {len(lost) - expired - never}; with a relation {sum(1 for c in lost if relations.get(c))}")
    print(f"relations: exactly one {sum(1 for s in acked if relations.get(s.external_userid) == 1)}, "
          f"missing {len(no_relation)}, more than one {len(two_relations)}")
    print(f"dead letters: {dead}")
    print("  " + dead_text.strip().replace("\n", "\n  "))
    if latencies:
        print(f"welcome latency from the scan: p50 {percentile(latencies, 50):.1f} s, p95 "
              f"{percentile(latencies, 95):.1f} s, max {latencies[-1]:.1f} s")
    print("worker logs: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    print(f"last fault ended +{last_fault - burst_started:.1f} s; last welcome +{last_welcome - burst_started:.1f} s")
    print(f"TIME FROM THE LAST FAULT TO THE LAST WELCOME: {after_fault:.1f} s (target <= {TARGET_S:g} s)"
          + (" — but welcomes were lost, so the last one sent is not the last one owed" if lost else ""))
    if lost:
        print(f"  lost (first 10): {', '.join(lost[:10])}")
    if doubled:
        print(f"  doubled (first 10): {', '.join(doubled[:10])}")
    met = (not lost and not doubled and not no_relation and not two_relations and dead == 0 and bool(acked)
           and after_fault <= TARGET_S)
    print(f"target (last welcome within {TARGET_S:g} s of the last fault, 0 lost, 0 doubled, 0 dead letters): "
          f"{'MET' if met else 'MISSED'}   wall time {time.monotonic() - wall:.0f} s")
    return 0 if met else 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=300, help="customers scanning the store code (default 300)")
    parser.add_argument("--rate", type=float, default=20.0, help="scans a second during the burst (default 20)")
    parser.add_argument("--fault-gap", type=float, default=3.0, help="seconds between faults (default 3)")
    parser.add_argument("--restart-delay", type=float, default=1.0,
                        help="seconds a killed worker or Redis stays down before its restart (default 1)")
    parser.add_argument("--resend-delay", type=float, default=2.0,
                        help="seconds before the sender re-sends an unanswered callback (default 2)")
    parser.add_argument("--settle", type=float, default=120.0,
                        help="seconds after the last fault to wait for the last welcome (default 120)")
    parser.add_argument("--pg-port", type=int, default=55432, help="(a free port if it is taken)")
    parser.add_argument("--redis-port", type=int, default=56379, help="(a free port if it is taken)")
    parser.add_argument("--logs", type=Path, help="copy the app's, PostgreSQL's and Redis's logs to this directory")
    parser.add_argument("--max-seconds", type=float, default=480.0, help="the whole run stops after this (default 480)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run_drill("chaos", run, parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
