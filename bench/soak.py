"""Soak: a long week in an hour — does anything grow that should stay flat?

All on loopback, private to this run: PostgreSQL, Redis (AOF ``always``), ``scrm serve --role web``
and two workers, the WeCom simulator. For ``--minutes`` (default 60) new customers scan a store code
at ``--rate`` a second (each welcomed once), while the scheduled jobs run on a clock where a day lasts
``--day-minutes`` (default 8: a week of re-tags, digests, boards, predictions, org syncs in the hour;
retention, tag pushes and the other periodic jobs every minute), WeCom's access token expires every
2 minutes, and every
``--fault-every`` minutes one fault comes, in turn: WeCom errors for 20 s, PostgreSQL restarted,
Redis killed and restarted, the second worker killed (SIGKILL) and restarted.

Sampled every ``--sample`` seconds: the RSS of the web process and the first worker (neither is
ever killed), Redis's ``used_memory``, the stream and dead-letter lengths and the sizes of the
growing tables. Per ``--window`` minutes: the p99 callback latency. Written to ``--out`` as a CSV
and a PNG plot; the summary says whether memory stayed flat after warm-up (growth < 10%) and the
p99 stayed flat (the last window within 2x of the first). Warm-up lasts until every daily job has run
once (a compressed day and a minute, at least 5 minutes): a worker's first nightly run loads numpy.

    .venv/bin/python -m bench.soak                # or: make soak   (one hour)
    .venv/bin/python -m bench.soak --minutes 10 --window 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from PIL import Image, ImageDraw

from bench.appproc import HOST, callback_sender, migrate, new_corp, start_app, stop_app, wait_healthy
from bench.loadgen import percentile
from bench.pgdb import BenchError, create_database, database_url
from bench.private import PrivatePostgres, PrivateRedis, ServiceError
from bot.csvfiles import csv_writer
from config.settings import Settings
from simulator.server import running_simulator

TABLES = ("event_log", "outbox", "customer", "relationship", "command_audit")


@dataclass
class Sample:
    minute: float
    rss_web_mb: float
    rss_worker_mb: float
    redis_mb: float
    stream: int
    dead: int
    tables_mb: dict[str, float]


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (minute, seconds)
    faults: list[tuple[float, str]] = field(default_factory=list)
    sent: int = 0
    acknowledged: int = 0
    welcomed_once: int = 0
    not_welcomed: int = 0
    doubled: int = 0
    left_queued: int = -1
    drained_s: float = float("nan")
    memory_steps: list[str] = field(default_factory=list)  # the workers' worker_peak_memory_rose lines


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def compressed_schedule(day_minutes: int) -> dict[str, str]:
    """Each scheduled job's setting on a clock where a day lasts ``day_minutes`` real minutes.

    A daily job at H:M runs every ``day_minutes`` minutes, at the minute its hour falls on in that
    day (so the jobs stay spread as in a real day instead of all firing together); a weekly or
    monthly one once an hour; a job that runs each minute stays so; every ``*_every_s`` runs each
    60 s. ``day_minutes=1``: every job each minute (the harsher pace of the first soak).
    """
    env: dict[str, str] = {}
    for name, setting in Settings.model_fields.items():
        if name.endswith("_cron"):
            fields = str(setting.default).split()
            if day_minutes <= 1 or fields[0] == "*" or fields[1] == "*":
                env[name.upper()] = "* * * * *"
                continue
            offset = int(int(fields[1]) * day_minutes / 24) % day_minutes
            daily = fields[2:] == ["*", "*", "*"]
            env[name.upper()] = f"{offset}-59/{day_minutes} * * * *" if daily else f"{offset} * * * *"
        elif name.endswith("_every_s") and name.startswith("scrm_"):
            env[name.upper()] = "60"
    return env


async def sample(run: Run, started: float, web: subprocess.Popen[bytes], worker: subprocess.Popen[bytes],
                 redis_url: str, prefix: str, db_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        memory = (await client.info("memory"))["used_memory"] / 2**20
        stream = int(await client.xlen(f"{{{prefix}}}:events")) + int(await client.xlen(f"{{{prefix}}}:events:later"))
        dead = int(await client.xlen(f"{{{prefix}}}:events:dead"))
    except (OSError, aioredis.RedisError):
        memory, stream, dead = float("nan"), -1, -1
    finally:
        await client.aclose()
    sizes: dict[str, float] = {}
    try:
        conn = await asyncpg.connect(db_url.replace("postgres://", "postgresql://"))
        try:
            for table in TABLES:
                sizes[table] = (await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", table)) / 2**20
        finally:
            await conn.close()
    except (OSError, asyncpg.PostgresError):
        pass
    run.samples.append(Sample((time.monotonic() - started) / 60, rss_mb(web.pid), rss_mb(worker.pid), memory,
                              stream, dead, sizes))


async def queued_before(redis_url: str, prefix: str, before_ms: int) -> int:
    """Entries still queued (both lanes; an acknowledged entry is deleted) that were added before ``before_ms``."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        found = 0
        for lane in (f"{{{prefix}}}:events", f"{{{prefix}}}:events:later"):
            found += len(await client.xrange(lane, "-", str(before_ms), count=1_000_000))
        return found
    except (OSError, aioredis.RedisError):
        return -1
    finally:
        await client.aclose()


def write_outputs(run: Run, out: Path, window: float) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "soak.csv").open("w", newline="") as file:
        writer = csv_writer(file)
        writer.writerow(["minute", "rss_web_mb", "rss_worker_mb", "redis_mb", "stream", "dead",
                         *[f"{t}_mb" for t in TABLES]])
        for s in run.samples:
            writer.writerow([f"{s.minute:.2f}", f"{s.rss_web_mb:.1f}", f"{s.rss_worker_mb:.1f}", f"{s.redis_mb:.2f}",
                             s.stream, s.dead, *[f"{s.tables_mb.get(t, float('nan')):.2f}" for t in TABLES]])
    return plot(run, out / "soak.png", window)


def _panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], title: str,
           series: list[tuple[str, str, list[tuple[float, float]]]], x_max: float) -> None:
    left, top, right, bottom = box
    draw.rectangle(box, outline="#999999")
    draw.text((left + 6, top + 4), title, fill="#000000")
    values = [v for _name, _color, points in series for _x, v in points if v == v]
    if not values:
        return
    y_max = max(values) * 1.15 or 1.0
    draw.text((left + 6, top + 18), f"max {max(values):.1f}", fill="#555555")
    for legend, (name, color, points) in enumerate(series):
        draw.text((right - 170, top + 4 + 14 * legend), name, fill=color)
        coords = [(left + (right - left) * x / max(x_max, 1e-9), bottom - (bottom - top - 36) * v / y_max)
                  for x, v in points if v == v]
        if len(coords) > 1:
            draw.line(coords, fill=color, width=2)


def plot(run: Run, path: Path, window: float) -> Path:
    image = Image.new("RGB", (900, 720), "white")
    draw = ImageDraw.Draw(image)
    x_max = max((s.minute for s in run.samples), default=1.0)
    _panel(draw, (40, 20, 880, 240), "RSS (MB) by minute", [
        ("web", "#1f77b4", [(s.minute, s.rss_web_mb) for s in run.samples]),
        ("worker", "#d62728", [(s.minute, s.rss_worker_mb) for s in run.samples]),
    ], x_max)
    windows = p99_by_window(run, window)
    _panel(draw, (40, 260, 880, 480), f"p99 callback latency (ms) per {window:g} min", [
        ("p99", "#2ca02c", [((i + 0.5) * window, p99 * 1000) for i, p99 in enumerate(windows)]),
    ], x_max)
    _panel(draw, (40, 500, 880, 700), "Redis used_memory and event_log size (MB)", [
        ("redis", "#9467bd", [(s.minute, s.redis_mb) for s in run.samples]),
        ("event_log", "#8c564b", [(s.minute, s.tables_mb.get("event_log", float("nan"))) for s in run.samples]),
    ], x_max)
    for minute, _name in run.faults:
        x = 40 + 840 * minute / max(x_max, 1e-9)
        draw.line([(x, 20), (x, 700)], fill="#dddddd")
    image.save(path)
    return path


def p99_by_window(run: Run, window: float) -> list[float]:
    buckets: dict[int, list[float]] = {}
    for minute, seconds in run.latencies:
        buckets.setdefault(int(minute // window), []).append(seconds)
    return [percentile(sorted(buckets[i]), 99) for i in sorted(buckets)]


async def soak(args: argparse.Namespace, tmp: Path) -> Run:  # noqa: C901 - one story, told in order
    pg = PrivatePostgres(tmp, port=args.pg_port)
    redis = PrivateRedis(tmp, appendfsync="always", port=args.redis_port)
    run = Run()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    try:
        pg.init()
        pg.start()
        redis.start()
        await create_database(pg.admin_dsn, "scrm")
        db_url = database_url(pg.admin_dsn, "scrm")
        await asyncio.to_thread(migrate, tmp, db_url, redis.url)
        state, guides, channels = new_corp()
        state.token_ttl = 120  # the access token expires every 2 minutes: refreshes all along
        channel = next((c for c in channels if c.startswith("store")), channels[0])
        prefix = f"soak-{secrets.token_hex(3)}"
        env = {"SCRM_AUTO_MIGRATE": "false", "LOG_LEVEL": "WARNING", "SCRM_RETENTION_EVERY_S": "60",
               **compressed_schedule(args.day_minutes)}
        async with running_simulator(state) as sim, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0)
        ) as http:
            def start(role: str) -> tuple[subprocess.Popen[bytes], str, Path]:
                proc, port, log = start_app(tmp, sim.url, db_url, redis.url, prefix, env, None, role=role)
                return proc, f"http://{HOST}:{port}", log

            for name, role in (("web", "web"), ("worker1", "worker"), ("worker2", "worker")):
                proc, url, log = start(role)
                procs[name] = proc
                logs[name] = log
                await wait_healthy(proc, url, log, http)
                if name == "web":
                    web_url = url
            sender = callback_sender(state, web_url, http, timeout=5.0, max_resends=3, resend_delay=1.0)
            started = time.monotonic()
            deadline = started + args.minutes * 60

            async def deliver(n: int) -> None:
                inner = state.customer_scans_qr(guides[n % len(guides)], f"wmSOAK{n:07d}", state=channel)
                report = await sender.send(inner)
                run.sent += 1
                if report.delivered:
                    run.acknowledged += 1
                    acknowledged.add(f"wmSOAK{n:07d}")
                    if report.attempts == 1:
                        run.latencies.append(((time.monotonic() - started) / 60, report.elapsed))

            async def load() -> None:
                tasks: set[asyncio.Task[None]] = set()
                n = 0
                while time.monotonic() < deadline:
                    due = started + n / args.rate
                    if due > time.monotonic():
                        await asyncio.sleep(due - time.monotonic())
                    task = asyncio.create_task(deliver(n))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    n += 1
                await asyncio.gather(*tasks)

            async def faults() -> None:
                async def wecom() -> None:
                    state.faults.inject("*", errcode=-1, rate=0.1)
                    state.faults.inject("*", http_status=502, rate=0.05)
                    await asyncio.sleep(20)
                    state.faults.clear()

                async def restart_pg() -> None:
                    await asyncio.to_thread(pg.restart_fast)

                async def kill_redis() -> None:
                    await asyncio.to_thread(redis.restart_after_kill)

                async def kill_worker2() -> None:
                    procs["worker2"].kill()
                    procs["worker2"].wait()
                    await asyncio.sleep(1)
                    procs["worker2"] = start("worker")[0]

                cycle: list[tuple[str, Callable[[], Awaitable[None]]]] = [
                    ("WeCom errors for 20 s", wecom), ("PostgreSQL restarted", restart_pg),
                    ("Redis killed and restarted", kill_redis), ("worker 2 killed and restarted", kill_worker2)]
                turn = 0
                while time.monotonic() + args.fault_every * 60 < deadline:
                    await asyncio.sleep(args.fault_every * 60)
                    name, action = cycle[turn % len(cycle)]
                    run.faults.append(((time.monotonic() - started) / 60, name))
                    await action()
                    turn += 1

            async def sampler() -> None:
                while time.monotonic() < deadline:
                    await sample(run, started, procs["web"], procs["worker1"], redis.url, prefix, db_url)
                    await asyncio.sleep(args.sample)
                await sample(run, started, procs["web"], procs["worker1"], redis.url, prefix, db_url)

            acknowledged: set[str] = set()
            await asyncio.gather(load(), faults(), sampler())
            load_ended_ms = int(time.time() * 1000)
            # Lose nothing: every acknowledged customer welcomed exactly once (the queue gets 3 minutes to drain).
            settle = time.monotonic() + 180
            while time.monotonic() < settle:
                if {w.external_userid for w in state.welcome_messages} >= acknowledged:
                    break
                await asyncio.sleep(1)
            # …and the follow-up lane (records, tags, SOP) drains after the load (5 minutes at most). What counts is
            # what the load left: the scheduler goes on queueing the (compressed) days' jobs meanwhile.
            drained = time.monotonic() + 300
            while time.monotonic() < drained:
                await sample(run, started, procs["web"], procs["worker1"], redis.url, prefix, db_url)
                run.left_queued = await queued_before(redis.url, prefix, load_ended_ms)
                if run.left_queued == 0:
                    break
                await asyncio.sleep(5)
            run.drained_s = time.monotonic() - deadline
            welcomes = Counter(w.external_userid for w in state.welcome_messages)
            run.welcomed_once = sum(1 for c in acknowledged if welcomes[c] == 1)
            run.not_welcomed = sum(1 for c in acknowledged if welcomes[c] == 0)
            run.doubled = sum(1 for n in welcomes.values() if n > 1)
    finally:
        for proc in procs.values():
            stop_app(proc)
        redis.stop()
        pg.stop()
        for name in ("worker1", "worker2"):
            if name in logs and logs[name].exists():
                text = logs[name].read_text(errors="replace")
                run.memory_steps += [f"{name}: {line.strip()}" for line in text.splitlines()
                                     if "worker_peak_memory_rose" in line]
    return run


def summary(args: argparse.Namespace, run: Run, png: Path) -> int:
    warm = [s for s in run.samples if s.minute >= args.warmup]
    print(f"soak — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores; {args.minutes:g} min at "
          f"{args.rate:g} callbacks/s, a day of jobs every {args.day_minutes} min, token TTL 120 s, "
          f"a fault every {args.fault_every:g} min")
    print(f"callbacks sent {run.sent}, acknowledged {run.acknowledged}; faults: "
          + "; ".join(f"+{m:.0f} min {name}" for m, name in run.faults))
    print(f"welcomed exactly once {run.welcomed_once} of {run.acknowledged}; not welcomed {run.not_welcomed} "
          f"(a welcome code lives 20 s), doubled {run.doubled}")
    print(f"queue after the load: {run.left_queued} of its entries left {run.drained_s:.0f} s after it ended")
    flat = run.doubled == 0 and run.not_welcomed == 0 and run.left_queued == 0
    for label, get in (("web RSS", lambda s: s.rss_web_mb), ("worker RSS", lambda s: s.rss_worker_mb)):
        if len(warm) >= 2:
            first, last = get(warm[0]), get(warm[-1])
            growth = (last - first) / first * 100 if first else float("nan")
            flat &= growth < 10
            print(f"{label}: {first:.0f} MB at +{warm[0].minute:.0f} min (after warm-up) → {last:.0f} MB at "
                  f"+{warm[-1].minute:.0f} min: {growth:+.1f}%")
    windows = p99_by_window(run, args.window)
    print(f"p99 callback latency per {args.window:g} min (ms): " + ", ".join(f"{p * 1000:.0f}" for p in windows))
    if len(windows) >= 2:
        flat &= windows[-1] <= 2 * max(windows[0], 0.05)
    if run.samples:
        first, last = run.samples[0], run.samples[-1]
        print(f"Redis used_memory {first.redis_mb:.1f} → {last.redis_mb:.1f} MB; stream {last.stream}, "
              f"dead letters {last.dead}")
        print("tables (MB): " + ", ".join(f"{t} {first.tables_mb.get(t, 0):.2f} → {last.tables_mb.get(t, 0):.2f}"
                                          for t in TABLES))
    for line in run.memory_steps:  # which events were in flight when a worker's peak memory stepped up
        print(f"memory step: {line[:400]}")
    print(f"plot: {png}; samples: {png.with_suffix('.csv')}")
    print("target (every acknowledged customer welcomed once, the queue drained, RSS growth < 10% after warm-up, "
          f"p99 flat): {'MET' if flat else 'MISSED'}")
    return 0 if flat else 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="how long (default 60)")
    parser.add_argument("--day-minutes", type=int, default=8,
                        help="real minutes a day of jobs lasts (default 8: a week an hour; 1: all each minute)")
    parser.add_argument("--rate", type=float, default=20.0, help="new customers a second (default 20)")
    parser.add_argument("--sample", type=float, default=60.0, help="seconds between samples (default 60)")
    parser.add_argument("--window", type=float, default=10.0, help="minutes per p99 window (default 10)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="minutes before memory counts (default: one day of jobs and a minute, at least 5: "
                             "every daily job has run once)")
    parser.add_argument("--fault-every", type=float, default=5.0, help="minutes between faults (default 5)")
    parser.add_argument("--out", type=Path, default=Path("bench/out/soak"), help="where the CSV and PNG go")
    parser.add_argument("--pg-port", type=int, default=55462, help="(a free port if it is taken)")
    parser.add_argument("--redis-port", type=int, default=56399, help="(a free port if it is taken)")
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = max(5.0, args.day_minutes + 1.0)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scrm-soak-") as tmp:
        try:
            run = asyncio.run(asyncio.wait_for(soak(args, Path(tmp)), timeout=args.minutes * 60 + 600))
        except (BenchError, ServiceError) as err:
            print(f"bench/soak.py: {err}", file=sys.stderr)
            return 2
    png = write_outputs(run, args.out, args.window)
    return summary(args, run, png)


if __name__ == "__main__":
    raise SystemExit(main())
