"""Welcome latency: from WeCom sending ``add_external_contact`` to our welcome reaching WeCom.

The WeCom simulator runs in this process; the real app runs as ``scrm serve --role all`` (ingest
and worker in one process) against real Redis and a throwaway PostgreSQL database, with
``WECOM_API_BASE`` pointing at the simulator. Customers scan guides' QR codes
(``state.customer_scans_qr``) and the simulator's ``CallbackSender`` delivers each event as WeCom
does (sign, encrypt, re-send on no 200 within 5 s). A welcome counts when the simulator records
``externalcontact/send_welcome_msg`` for that customer (``state.welcome_messages``); latency is
from the start of the callback's delivery to that record. Welcome codes live 20 s, as in WeCom.

Two runs: steady (``--rate`` scans/s for ``--duration`` s, open loop) and a burst (``--burst``
scans sent at once, at most ``--burst-connections`` in flight). Target (issues 3 and 15): a burst of
500, every customer welcomed, p95 < 2 s. The burst also prints the CPU the app spent until the last
welcome, a figure a busy host does not inflate (compare two trees with ``--app-src``).

    .venv/bin/python -m bench.welcome                      # 50/s for 20 s, then a burst of 500
    .venv/bin/python -m bench.welcome --quick              # 50/s for 6 s, burst of 200
    .venv/bin/python -m bench.welcome --rate 100 --duration 30 --burst 1000

Needs PostgreSQL on 127.0.0.1:5432 (trust auth; ``--pg``) and Redis on 127.0.0.1:6379
(``--redis-url``). The database ``scrm_bench_<random>`` is dropped and the Redis keys deleted
at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

from bench.appproc import HOST, callback_sender, new_corp, start_app, stop_app, wait_healthy
from bench.loadgen import percentile
from bench.pgdb import BenchError, create_database, database_url, drop_database
from simulator.callbacks import CallbackSender, DeliveryReport
from simulator.server import SimulatorServer, running_simulator
from simulator.state import SimulatorState

TARGET_P95_S = 2.0
WELCOME_API = "externalcontact/send_welcome_msg"


@dataclass
class Scan:
    external_userid: str
    userid: str
    channel: str
    sent_at: float = 0.0
    report: DeliveryReport | None = None


@dataclass
class RunResult:
    name: str
    scans: int
    send_seconds: float
    latencies_s: list[float] = field(default_factory=list)
    ack_s: list[float] = field(default_factory=list)
    missing: int = 0
    undelivered: int = 0
    resent: int = 0
    code_errors: int = 0
    app_cpu_s: float = float("nan")  # CPU the app used from the first send to the last welcome

    def pct(self, values: Sequence[float], p: float) -> float:
        return percentile(sorted(values), p)

    def row(self) -> str:
        lat = self.latencies_s
        met = "met" if lat and self.pct(lat, 95) < TARGET_P95_S and not self.missing else "MISSED"
        return (f"| {self.name:<22} | {self.scans:>5} | {len(lat):>8} | {self.missing:>7} | "
                f"{self.pct(lat, 50) * 1000:>7.0f} | {self.pct(lat, 95) * 1000:>7.0f} | "
                f"{self.pct(lat, 99) * 1000:>7.0f} | {(max(lat) if lat else float('nan')) * 1000:>7.0f} | "
                f"{self.pct(self.ack_s, 99) * 1000:>8.1f} | {self.resent:>6} | {met} |")


HEADER = (
    "| run                    | scans | welcomed | missing | p50 ms  | p95 ms  | p99 ms  | max ms  "
    "| ack p99 ms | resent | p95 < 2 s |\n"
    "|------------------------|-------|----------|---------|---------|---------|---------|---------"
    "|------------|--------|-----------|"
)


# --- setup ------------------------------------------------------------------------------------


async def delete_prefix(redis_url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = [key async for key in client.scan_iter(match=f"{{{prefix}}}*", count=5000)]
        for i in range(0, len(keys), 2000):
            await client.unlink(*keys[i : i + 2000])
    finally:
        await client.aclose()


# --- runs -------------------------------------------------------------------------------------


def make_scans(tag: str, count: int, guides: list[str], channels: list[str]) -> list[Scan]:
    return [Scan(f"wm{tag}{i:016d}", guides[i % len(guides)], channels[i % len(channels)]) for i in range(count)]


async def deliver(state: SimulatorState, sender: CallbackSender, scan: Scan, slots: asyncio.Semaphore | None) -> None:
    # The scan happens now: WeCom mints the welcome code (valid 20 s) when it sends the event.
    if slots is not None:
        await slots.acquire()
    try:
        inner = state.customer_scans_qr(scan.userid, scan.external_userid, state=scan.channel)
        scan.sent_at = time.time()
        scan.report = await sender.send(inner)
    finally:
        if slots is not None:
            slots.release()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (Linux /proc): a figure the host's load does not inflate."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(name: str, sim: SimulatorServer, sender: CallbackSender, scans: list[Scan], *, rate: float | None,
              connections: int, settle_s: float) -> RunResult:
    """Send ``scans`` at ``rate`` a second (None: all at once, ``connections`` in flight); collect welcomes."""
    state = sim.state
    wanted = {scan.external_userid: scan for scan in scans}
    errors_before = state.count_calls(WELCOME_API) - len(state.welcome_messages)
    welcomed_before = len(state.welcome_messages)
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    started = loop.time()
    slots = asyncio.Semaphore(connections) if rate is None else None
    for i, scan in enumerate(scans):
        if rate is not None:
            delay = started + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(deliver(state, sender, scan, slots)))
    await asyncio.gather(*tasks)
    send_seconds = loop.time() - started
    deadline = loop.time() + settle_s
    while loop.time() < deadline:
        done = sum(1 for w in state.welcome_messages[welcomed_before:] if w.external_userid in wanted)
        if done >= len(scans):
            break
        await asyncio.sleep(0.1)
    result = RunResult(name, len(scans), send_seconds)
    seen: set[str] = set()
    for welcome in state.welcome_messages[welcomed_before:]:
        matched = wanted.get(welcome.external_userid)
        if matched is not None and welcome.external_userid not in seen:
            seen.add(welcome.external_userid)
            result.latencies_s.append(welcome.sent_at - matched.sent_at)
    result.missing = len(scans) - len(seen)
    for scan in scans:
        report = scan.report
        if report is None or not report.delivered:
            result.undelivered += 1
        elif report.attempts > 1:
            result.resent += 1
        if report is not None and report.delivered:
            result.ack_s.append(report.elapsed)
    result.code_errors = state.count_calls(WELCOME_API) - len(state.welcome_messages) - errors_before
    return result


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="steady scans per second (default 50)")
    parser.add_argument("--duration", type=float, default=20.0, help="steady run length in seconds (default 20)")
    parser.add_argument("--burst", type=int, default=500, help="scans in the burst run (default 500; 0: none)")
    parser.add_argument("--burst-connections", type=int, default=100,
                        help="callbacks in flight at once during the burst (default 100)")
    parser.add_argument("--settle", type=float, default=30.0,
                        help="seconds to wait for the last welcomes after the last send (default 30)")
    parser.add_argument("--quick", action="store_true", help="6 s steady, burst of 200")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="an admin DSN to create and drop the throwaway database with")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--worker-concurrency", type=int, default=0,
                        help="SCRM_WORKER_CONCURRENCY for the app (default: the app's own default)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument("--app-src", type=Path, help="run the app from this source tree (PYTHONPATH), e.g. a "
                        "`git archive <commit>` export; default: this checkout")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.burst = 6.0, min(args.burst, 200)
    return args


async def bench(args: argparse.Namespace) -> int:
    tag = secrets.token_hex(3)
    db_name = f"scrm_bench_{tag}"
    prefix = f"bench-welcome-{tag}"
    redis = aioredis.Redis.from_url(args.redis_url)
    try:
        await redis.ping()
    except (OSError, aioredis.RedisError) as err:
        raise BenchError(f"Redis not reachable at {args.redis_url} ({type(err).__name__}): start it, "
                         "or pass --redis-url") from None
    finally:
        await redis.aclose()
    await create_database(args.pg, db_name)
    state, guides, channels = new_corp()
    extra = {"SCRM_WORKER_CONCURRENCY": str(args.worker_concurrency)} if args.worker_concurrency else {}
    results: list[RunResult] = []
    wall = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scrm-bench-welcome-") as tmp:
        proc: subprocess.Popen[bytes] | None = None
        log_path = Path(tmp) / "app.log"
        try:
            async with running_simulator(state) as sim, aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=max(100, args.burst_connections))
            ) as http:
                proc, port, log_path = start_app(Path(tmp), sim.url, database_url(args.pg, db_name), args.redis_url,
                                                 prefix, extra, args.app_src)
                url = f"http://{HOST}:{port}"
                await wait_healthy(proc, url, log_path, http)
                sender = callback_sender(state, url, http)
                print(f"app on {url} (role all), simulator on {sim.url}, database {db_name}", flush=True)
                warm = make_scans(tag + "w", 20, guides, channels)
                await run("warm-up", sim, sender, warm, rate=20, connections=10, settle_s=15)
                count = max(1, int(args.rate * args.duration))
                steady = make_scans(tag + "s", count, guides, channels)
                print(f"steady: {count} scans at {args.rate:g}/s ...", flush=True)
                results.append(await run(f"steady {args.rate:g}/s x {args.duration:g} s", sim, sender, steady,
                                         rate=args.rate, connections=0, settle_s=args.settle))
                if args.burst:
                    await asyncio.sleep(2)
                    burst = make_scans(tag + "b", args.burst, guides, channels)
                    print(f"burst: {args.burst} scans at once ({args.burst_connections} in flight) ...", flush=True)
                    cpu_before = cpu_seconds(proc.pid)
                    results.append(await run(f"burst {args.burst}", sim, sender, burst, rate=None,
                                             connections=args.burst_connections, settle_s=args.settle))
                    results[-1].app_cpu_s = cpu_seconds(proc.pid) - cpu_before
        finally:
            if proc is not None:
                stop_app(proc)
            app_log = log_path.read_text(errors="replace") if log_path.exists() else ""
            await drop_database(args.pg, db_name)
            await delete_prefix(args.redis_url, prefix)

    print()
    print(f"welcome benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, app role all, "
          f"PostgreSQL + Redis on loopback, simulator in the bench process")
    print()
    print(HEADER)
    for result in results:
        print(result.row())
    print()
    for result in results:
        print(f"{result.name}: sent in {result.send_seconds:.1f} s; undelivered callbacks {result.undelivered}; "
              f"re-sent by the sender {result.resent}; send_welcome_msg errors (expired/used codes) "
              f"{result.code_errors}")
        if result.app_cpu_s == result.app_cpu_s:  # measured (not NaN)
            print(f"  app CPU from the first send to the last welcome: {result.app_cpu_s:.2f} s "
                  f"({1000 * result.app_cpu_s / result.scans:.1f} ms a scan)")
    warnings = [line for line in app_log.splitlines() if "error" in line.lower() or "warning" in line.lower()]
    print(f"app log: {len(warnings)} warning/error lines" + (f"; last: {warnings[-1][:200]}" if warnings else ""))
    kinds = Counter(line.split("]", 1)[1].split()[0] for line in warnings if "]" in line)
    if kinds:
        print("  by event: " + ", ".join(f"{name} {count}" for name, count in kinds.most_common(8)))
    print(f"wall time {time.monotonic() - wall:.0f} s")
    if args.json:
        args.json.write_text(json.dumps([
            {"run": r.name, "scans": r.scans, "welcomed": len(r.latencies_s), "missing": r.missing,
             "p50_s": r.pct(r.latencies_s, 50), "p95_s": r.pct(r.latencies_s, 95),
             "p99_s": r.pct(r.latencies_s, 99), "max_s": max(r.latencies_s, default=float("nan")),
             "undelivered": r.undelivered, "resent": r.resent, "code_errors": r.code_errors}
            for r in results], indent=2))
    return 0 if all(not r.missing and not r.undelivered for r in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(bench(args))
    except BenchError as err:
        print(f"bench/welcome.py: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
