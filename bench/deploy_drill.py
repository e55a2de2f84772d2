"""Deploy drill: every process replaced one by one, twice, while WeCom keeps calling.

Production shape, all on loopback and private to this run (started and removed by the script):
- PostgreSQL and Redis (AOF, ``appendfsync always``) of their own, as in bench/chaos.py;
- two ``scrm serve --role web`` processes behind Caddy (the proxy of docker-compose.yml), which
  checks ``/healthz`` every half second and retries a request that found no upstream; two
  ``scrm serve --role worker`` processes;
- WeCom: the simulator and its callback sender (signed, encrypted, re-sent when not answered 200).

During a steady stream of new customers (``--rate`` callbacks a second, default 50), a rolling
deploy replaces web 1, web 2, worker 1, worker 2 — each SIGTERMed (a stopping web process drains:
``/healthz`` 503 for ``SCRM_DRAIN_S``, then finishes what it has), waited for, and replaced by a
new process that must be healthy before the next one goes — and then does it all again.

Reported: callbacks refused or reset on their first attempt (the target is none, as WeCom would
re-send it, but a deploy should not make it), callbacks that needed WeCom's re-send, and customers
welcomed exactly once (target 100%), lost and doubled. Exit 0 when the target is met, 1 when
missed, 2 when the run could not be made. Needs ``caddy`` (Debian's package).

    .venv/bin/python -m bench.deploy_drill       # or: make deploy-drill (~3 minutes)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bench.appproc import HOST, callback_sender, migrate, new_corp, run_drill, start_app, wait_healthy
from bench.chaos import Scan, count_relations, dead_letter_report, keep_logs
from bench.pgdb import BenchError, create_database, database_url
from bench.private import PrivatePostgres, PrivateRedis, free_port
from simulator.callbacks import CallbackSender
from simulator.models import WelcomeMessage
from simulator.server import running_simulator
from simulator.state import SimulatorState

_CADDYFILE = """{{
	admin off
	auto_https off
}}
http://{host}:{port} {{
	reverse_proxy {upstreams} {{
		# A process that is stopping answers /healthz 503 while it drains: taken out of rotation.
		health_uri /healthz
		health_interval 1s
		health_timeout 3s
		# A request that found no healthy upstream (or could not connect) tries again for this long;
		# a callback may be re-tried whatever happened (ingest de-duplicates it), others only when
		# they never reached an upstream.
		lb_try_duration 5s
		lb_try_interval 100ms
		lb_retry_match {{
			path /wecom/callback
		}}
		transport http {{
			dial_timeout 1s
		}}
	}}
}}
"""


@dataclass
class Slot:
    """One process the deploy replaces: its role, fixed port (the proxy knows it) and generations."""

    role: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    stops: list[tuple[float, int | None]] = field(default_factory=list)  # (seconds to exit, exit code)


@dataclass
class Drill:
    workdir: Path
    sim_url: str
    db_url: str
    redis_url: str
    prefix: str
    env: dict[str, str]
    logs: list[Path] = field(default_factory=list)

    def start(self, slot: Slot) -> Path:
        proc, _port, log = start_app(self.workdir, self.sim_url, self.db_url, self.redis_url, self.prefix,
                                     self.env, None, role=slot.role, port=slot.port)
        slot.proc = proc
        self.logs.append(log)
        return log

    async def replace(self, slot: Slot, http: aiohttp.ClientSession) -> None:
        assert slot.proc is not None
        began = time.monotonic()
        slot.proc.terminate()  # SIGTERM, as a supervisor or `docker stop` sends it
        code: int | None
        try:
            code = await asyncio.to_thread(slot.proc.wait, 60)
        except subprocess.TimeoutExpired:
            slot.proc.kill()
            code = None
        slot.stops.append((time.monotonic() - began, code))
        log = self.start(slot)
        assert slot.proc is not None
        await wait_healthy(slot.proc, f"http://{HOST}:{slot.port}", log, http, within=180)
        if slot.role == "web":
            await asyncio.sleep(2.0)  # two of the proxy's health checks: back in rotation


async def steady_load(state: SimulatorState, sender: CallbackSender, scans: list[Scan], channel: str, rate: float,
                      stop: asyncio.Event) -> None:
    """One delivery a new customer at ``rate`` a second (re-sent by the sender until answered 200)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks: list[asyncio.Task[None]] = []

    async def deliver_once(scan: Scan) -> None:
        inner = state.customer_scans_qr(scan.userid, scan.external_userid, state=channel)
        scan.sent_at = time.time()
        scan.reports = [await sender.send(inner)]

    for i, scan in enumerate(scans):
        if stop.is_set():
            break
        delay = started + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(deliver_once(scan)))
    await asyncio.gather(*tasks)


async def run(args: argparse.Namespace, tmp: Path) -> int:
    caddy = shutil.which("caddy")
    if caddy is None:
        raise BenchError("caddy is not installed (apt-get install caddy)")
    wall = time.monotonic()
    pg = PrivatePostgres(tmp, port=args.pg_port)
    redis = PrivateRedis(tmp, appendfsync="always", port=args.redis_port)
    drill: Drill | None = None
    slots = [Slot("web", free_port()), Slot("web", free_port()), Slot("worker", free_port()),
             Slot("worker", free_port())]
    proxy: subprocess.Popen[bytes] | None = None
    try:
        pg.init()
        pg.start()
        redis.start()
        await create_database(pg.admin_dsn, "scrm")
        db_url = database_url(pg.admin_dsn, "scrm")
        await asyncio.to_thread(migrate, tmp, db_url, redis.url)
        state, guides, channels = new_corp()
        channel = next((c for c in channels if c.startswith("store")), channels[0])
        async with running_simulator(state) as sim, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0)
        ) as http:
            env = {"SCRM_AUTO_MIGRATE": "false", "LOG_LEVEL": "INFO", "SCRM_DRAIN_S": str(args.drain)}
            drill = Drill(tmp, sim.url, db_url, redis.url, f"drill-{secrets.token_hex(3)}", env)
            for slot in slots:
                log = drill.start(slot)
                assert slot.proc is not None
                await wait_healthy(slot.proc, f"http://{HOST}:{slot.port}", log, http)
            proxy_port = free_port()
            caddyfile = tmp / "Caddyfile"
            caddyfile.write_text(_CADDYFILE.format(
                host=HOST, port=proxy_port, upstreams=" ".join(f"{HOST}:{s.port}" for s in slots if s.role == "web")))
            proxy = start_proxy(caddy, caddyfile, tmp / "caddy.log")
            drill.logs.append(tmp / "caddy.log")
            await asyncio.sleep(1.5)
            proxy_url = f"http://{HOST}:{proxy_port}"
            # Re-sent like WeCom does when the answer is not 200 (3 more times, 1 s apart).
            sender = callback_sender(state, proxy_url, http, timeout=5.0, max_resends=3, resend_delay=1.0)
            total = int(args.rate * args.max_load_seconds)
            scans = [Scan(f"wmDRILL{i:06d}", guides[i % len(guides)]) for i in range(total)]
            stop_load = asyncio.Event()
            print(f"proxy {proxy_url} → 2 web; 2 workers; {args.rate:g} callbacks/s of new customers; "
                  f"{args.rounds} rolling replacements of all 4 processes", flush=True)
            load = asyncio.create_task(steady_load(state, sender, scans, channel, args.rate, stop_load))
            await asyncio.sleep(args.warmup)
            deploy_started = time.time()
            try:
                for round_number in range(args.rounds):
                    for slot in slots:
                        await drill.replace(slot, http)
                    print(f"  rolling replacement {round_number + 1} done at +{time.time() - deploy_started:.1f} s",
                          flush=True)
                await asyncio.sleep(args.warmup)
            finally:
                stop_load.set()
                await load
            sent = [s for s in scans if s.reports]
            wanted = {s.external_userid for s in sent if s.reports[0].delivered}
            load_ended = time.time()
            welcomed_s, recorded_s = await settle(state, db_url, wanted, load_ended + args.settle)
            print(f"  after the load ended: the last welcome +{welcomed_s:.0f} s, the last record +{recorded_s:.0f} s",
                  flush=True)
            await asyncio.sleep(2)
            relations = await count_relations(db_url, wanted)
            dead, _dead_text = await dead_letter_report(redis.url, drill.prefix)
            welcomes = list(state.welcome_messages)
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait()
        for slot in slots:
            if slot.proc is not None and slot.proc.poll() is None:
                slot.proc.terminate()
                slot.proc.wait()
        redis.stop()
        pg.stop()
        if args.logs and drill is not None:
            keep_logs(args.logs, drill.logs)

    return report(args, slots, sent, welcomes, relations, dead, wall)


async def settle(state: SimulatorState, db_url: str, wanted: set[str], deadline: float) -> tuple[float, float]:
    """Wait for every welcome, then every record (the follow-up lane may trail the welcomes); the
    seconds each took after the load ended (NaN: not by the deadline)."""
    began = time.time()
    welcomed_s = recorded_s = float("nan")
    while time.time() < deadline:
        if welcomed_s != welcomed_s and {w.external_userid for w in state.welcome_messages} >= wanted:
            welcomed_s = time.time() - began
        if welcomed_s == welcomed_s and len(await count_relations(db_url, wanted)) >= len(wanted):
            recorded_s = time.time() - began
            break
        await asyncio.sleep(2)
    return welcomed_s, recorded_s


def start_proxy(caddy: str, caddyfile: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([caddy, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
                                stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ) | {"HOME": str(log.parent)})


def report(args: argparse.Namespace, slots: list[Slot], sent: list[Scan], welcomes: list[WelcomeMessage],
           relations: dict[str, int], dead: int, wall: float) -> int:
    per_customer = Counter(w.external_userid for w in welcomes)
    first = Counter("200" if s.reports[0].statuses[0] == 200 else str(s.reports[0].statuses[0] or "no answer")
                    for s in sent)
    resent = sum(1 for s in sent if s.reports[0].attempts > 1)
    acked = [s for s in sent if s.reports[0].delivered]
    once = sum(1 for s in acked if per_customer[s.external_userid] == 1)
    lost = [s.external_userid for s in acked if per_customer[s.external_userid] == 0]
    doubled = [c for c, n in per_customer.items() if n > 1]
    no_relation = [s.external_userid for s in acked if not relations.get(s.external_userid)]
    refused = sum(n for status, n in first.items() if status != "200")
    print()
    print(f"deploy drill — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores; Caddy → 2 web, 2 workers, "
          f"private PostgreSQL and Redis; SCRM_DRAIN_S={args.drain:g}")
    for slot in slots:
        stops = ", ".join(f"{seconds:.1f} s (exit {code})" for seconds, code in slot.stops)
        print(f"  {slot.role} :{slot.port} stopped in {stops}")
    print(f"callbacks sent {len(sent)} at {args.rate:g}/s; first attempt: "
          + ", ".join(f"{status} {n}" for status, n in sorted(first.items())))
    print(f"callbacks refused or reset on the first attempt: {refused}; needing WeCom's re-send: {resent}; "
          f"acknowledged in the end: {len(acked)}")
    print(f"customers welcomed exactly once: {once} of {len(acked)} ({100 * once / max(len(acked), 1):.1f}%); "
          f"lost {len(lost)}, doubled {len(doubled)}; without a relation {len(no_relation)}; dead letters {dead}")
    exits = [code for slot in slots for _seconds, code in slot.stops]
    met = (refused == 0 and resent == 0 and not lost and not doubled and not no_relation and dead == 0
           and len(acked) == len(sent) and all(code == 0 for code in exits))
    print(f"target (0 refused by a stopping process, 100% welcomed once, every process exits 0 on SIGTERM): "
          f"{'MET' if met else 'MISSED'}   wall time {time.monotonic() - wall:.0f} s")
    return 0 if met else 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="callbacks a second (default 50)")
    parser.add_argument("--rounds", type=int, default=2, help="rolling replacements of every process (default 2)")
    parser.add_argument("--drain", type=float, default=2.0, help="SCRM_DRAIN_S for the web processes (default 2)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before and after (default 5)")
    parser.add_argument("--settle", type=float, default=600.0,
                        help="seconds after the load to wait for the last welcome (default 600)")
    parser.add_argument("--max-load-seconds", type=float, default=600.0, help="the load stops after this at most")
    parser.add_argument("--pg-port", type=int, default=55442, help="(a free port if it is taken)")
    parser.add_argument("--redis-port", type=int, default=56389, help="(a free port if it is taken)")
    parser.add_argument("--logs", type=Path, help="copy the processes' and the proxy's logs to this directory")
    parser.add_argument("--max-seconds", type=float, default=900.0, help="the whole run stops after this")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run_drill("drill", run, parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
