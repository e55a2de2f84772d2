"""Failover drill: the Redis primary SIGKILLed under load, with two replicas and three Sentinels.

All on loopback, private to this run: a Redis primary and two replicas (``redis-server``), three
Sentinels (quorum 2, ``down-after-milliseconds`` 1000), a private PostgreSQL, one
``scrm serve --role web`` process that finds the primary through the Sentinels, and the WeCom
simulator's callback sender (re-sends what is not answered 200, as WeCom does). No worker runs, so
every acknowledged callback must still be in the stream of whoever is primary at the end.

Replication is instant on loopback, so the drill makes the lag a loaded network would: for ``--lag``
seconds before the primary is killed, both replicas are paused (SIGSTOP) and the primary's links to
them closed, so what it writes then reaches no replica; they resume right after the kill.
Run once with WAIT (``SCRM_REDIS_MIN_REPLICAS=1``, the default with Sentinel) and once without
(``0``) to show what the acknowledgement after WAIT saves. With two replicas, the one not promoted
becomes the new primary's replica, so WAIT is satisfied again after the failover.

Reported per mode: callbacks acknowledged, acknowledged ones missing on the new primary (target
0 with WAIT), and the seconds from the kill to the first callback acknowledged again (target
< 10 s). Exit 0 when the WAIT run meets both targets.

    .venv/bin/python -m bench.failover_drill     # or: make failover-drill (~2 minutes)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import redis.asyncio as aioredis

from bench.appproc import HOST, callback_sender, migrate, new_corp, run_drill, start_app, stop_app, wait_healthy
from bench.chaos import Scan
from bench.pgdb import BenchError, create_database, database_url
from bench.private import PrivatePostgres, free_port
from simulator.server import running_simulator

MASTER = "scrm-drill"


class RedisSet:
    """A primary, a replica and three Sentinels in ``workdir``; every process stopped at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.primary = free_port()
        self.replicas = [free_port(), free_port()]
        self.sentinels = [free_port() for _ in range(3)]

    def _redis(self, port: int, *args: str) -> None:
        folder = self.workdir / f"redis-{port}"
        folder.mkdir(exist_ok=True)
        self.procs[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", HOST, "--dir", str(folder), "--save", "",
             "--appendonly", "no", "--logfile", str(folder / "redis.log"), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def start(self) -> None:
        self._redis(self.primary)
        for replica in self.replicas:
            self._redis(replica, "--replicaof", HOST, str(self.primary))
        for port in self.sentinels:
            config = self.workdir / f"sentinel-{port}.conf"
            config.write_text(f"port {port}\nbind {HOST}\nsentinel monitor {MASTER} {HOST} {self.primary} 2\n"
                              f"sentinel down-after-milliseconds {MASTER} 1000\n"
                              f"sentinel failover-timeout {MASTER} 5000\n")
            self.procs[port] = subprocess.Popen(["redis-server", str(config), "--sentinel"],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    async def wait_ready(self) -> None:
        for replica in self.replicas:
            client = aioredis.Redis(host=HOST, port=replica, decode_responses=True)
            try:
                for _ in range(200):
                    try:
                        if (await client.info("replication")).get("master_link_status") == "up":
                            break
                    except (OSError, aioredis.RedisError):
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise BenchError("a replica never synced")
            finally:
                await client.aclose()

    async def cut_replication(self) -> None:
        """The replicas fall behind: paused, and the primary's links to them closed, so what the
        primary writes from now on is in no replica and in no socket buffer on its way to one."""
        for replica in self.replicas:
            self.signal(replica, signal.SIGSTOP)
        client = aioredis.Redis(host=HOST, port=self.primary, decode_responses=True)
        try:
            await client.execute_command("CLIENT", "KILL", "TYPE", "replica")
        finally:
            await client.aclose()

    def signal(self, port: int, signum: int) -> None:
        self.procs[port].send_signal(signum)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
            proc.wait()

    async def current_primary(self) -> int:
        client = aioredis.Redis(host=HOST, port=self.sentinels[0], decode_responses=True)
        try:
            host, port = await client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
            return int(port)
        finally:
            await client.aclose()


@dataclass
class Outcome:
    mode: str
    acknowledged: int
    missing: int
    outage_s: float
    not_acknowledged: int


async def stream_customers(port: int, prefix: str) -> set[str]:
    """The customers whose add is in the stream of the Redis on ``port``."""
    client = aioredis.Redis(host=HOST, port=port, decode_responses=True)
    try:
        entries: list[tuple[str, dict[str, str]]] = await client.xrange(f"{{{prefix}}}:events")  # type: ignore[assignment]
        bodies = [orjson.loads(fields["body"]) for _id, fields in entries if "body" in fields]
        return {str(body.get("ExternalUserID", "")) for body in bodies}
    finally:
        await client.aclose()


async def drill(args: argparse.Namespace, tmp: Path, db_url: str, min_replicas: int) -> Outcome:
    redis_set = RedisSet(tmp / f"redis-{min_replicas}")
    redis_set.workdir.mkdir()
    redis_set.start()
    web: subprocess.Popen[bytes] | None = None
    try:
        await redis_set.wait_ready()
        state, guides, channels = new_corp()
        channel = next((c for c in channels if c.startswith("store")), channels[0])
        prefix = f"failover-{secrets.token_hex(3)}"
        env = {"SCRM_AUTO_MIGRATE": "false", "REDIS_SENTINELS": ",".join(f"{HOST}:{p}" for p in redis_set.sentinels),
               "REDIS_SENTINEL_MASTER": MASTER, "SCRM_REDIS_MIN_REPLICAS": str(min_replicas)}
        async with running_simulator(state) as sim, aiohttp.ClientSession() as http:
            web, port, log = start_app(tmp, sim.url, db_url, "redis://unused", prefix, env, None, role="web")
            url = f"http://{HOST}:{port}"
            await wait_healthy(web, url, log, http)
            sender = callback_sender(state, url, http, timeout=5.0, max_resends=args.resends, resend_delay=1.0)
            scans = [Scan(f"wmFAIL{min_replicas}{i:05d}", guides[i % len(guides)])
                     for i in range(int(args.rate * args.seconds))]
            acked_at: dict[str, float] = {}

            async def deliver(scan: Scan) -> None:
                inner = state.customer_scans_qr(scan.userid, scan.external_userid, state=channel)
                report = await sender.send(inner)
                scan.reports = [report]
                if report.delivered:
                    acked_at[scan.external_userid] = time.time()

            async def load() -> None:
                started = time.monotonic()
                tasks = []
                for i, scan in enumerate(scans):
                    delay = started + i / args.rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(deliver(scan)))
                await asyncio.gather(*tasks)

            running = asyncio.create_task(load())
            await asyncio.sleep(args.seconds / 3)
            await redis_set.cut_replication()
            await asyncio.sleep(args.lag)  # callbacks acknowledged now are on the primary alone (without WAIT)
            redis_set.signal(redis_set.primary, signal.SIGKILL)
            killed_at = time.time()
            await asyncio.sleep(0.2)
            for replica in redis_set.replicas:
                redis_set.signal(replica, signal.SIGCONT)
            await running
            new_primary = await redis_set.current_primary()
            present = await stream_customers(new_primary, prefix)
    finally:
        if web is not None:
            stop_app(web)
        redis_set.stop()
    acknowledged = [s for s in scans if s.reports and s.reports[0].delivered]
    missing = sum(1 for s in acknowledged if s.external_userid not in present)
    after = [t for t in acked_at.values() if t > killed_at + 0.05]
    outage = (min(after) - killed_at) if after else float("inf")
    return Outcome("WAIT for 1 replica" if min_replicas else "no WAIT", len(acknowledged), missing, outage,
                   len(scans) - len(acknowledged))


async def run(args: argparse.Namespace, tmp: Path) -> int:
    pg = PrivatePostgres(tmp, port=args.pg_port)
    try:
        pg.init()
        pg.start()
        await create_database(pg.admin_dsn, "scrm")
        db_url = database_url(pg.admin_dsn, "scrm")
        await asyncio.to_thread(migrate, tmp, db_url, "memory://")
        outcomes = [await drill(args, tmp, db_url, 1), await drill(args, tmp, db_url, 0)]
    finally:
        pg.stop()
    print(f"failover drill — {os.cpu_count()} cores; primary + 2 replicas + 3 Sentinels (quorum 2, down after 1 s); "
          f"{args.rate:g} callbacks/s for {args.seconds:g} s; replicas cut off {args.lag:g} s before the kill")
    for o in outcomes:
        print(f"  {o.mode:18}: acknowledged {o.acknowledged}, acknowledged but missing after the failover {o.missing}, "
              f"never acknowledged {o.not_acknowledged}; from the kill to the next acknowledged callback "
              f"{o.outage_s:.1f} s")
    with_wait = outcomes[0]
    met = with_wait.missing == 0 and with_wait.outage_s < 10
    print(f"target (WAIT: 0 acknowledged callbacks missing, service back within 10 s): {'MET' if met else 'MISSED'}")
    return 0 if met else 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="callbacks a second (default 50)")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of load in each mode (default 30)")
    parser.add_argument("--lag", type=float, default=1.0, help="seconds the replica is paused before the kill")
    parser.add_argument("--resends", type=int, default=10, help="WeCom's re-sends of a callback (1 s apart)")
    parser.add_argument("--pg-port", type=int, default=55452, help="(a free port if it is taken)")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="the whole run stops after this")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run_drill("failover", run, parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
