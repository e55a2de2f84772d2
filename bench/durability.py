"""Durability: what a Redis crash loses of the callbacks the app acknowledged, by ``appendfsync`` setting.

For each setting (``always``, ``everysec``) a private ``redis-server`` (AOF on, its own port and temp
dir) and the app as ``scrm serve --role web`` (no worker: every acknowledged callback must still be
in the stream afterwards). ``--connections`` clients post distinct signed, encrypted
``add_external_contact`` callbacks as fast as the app answers; after ``--load-s`` seconds Redis is
killed with SIGKILL, the load stops, Redis restarts from its AOF, and the stream is read back.
Lost = callbacks answered ``success`` whose event is not in the stream. ``--rounds`` kills per
setting. The acknowledged rate during the load is printed too (a second ingest figure, with the
app, the clients and Redis sharing this machine).

A SIGKILL takes the process only: what Redis had written to the AOF file is in the kernel's page
cache and survives. The difference between the settings is a crash of the host itself (power, a
kernel panic, a VM killed), when the page cache is lost too. So each setting runs twice: a plain
SIGKILL (a process crash), and a SIGKILL of a Redis started with ``bench/crashsim.c`` preloaded
(compiled with gcc for the run), which holds the AOF's writes in the process until they are
fsync'ed: the kill then loses exactly what a host crash would (a simulated host crash).

    .venv/bin/python -m bench.durability                 # ~2 minutes
    .venv/bin/python -m bench.durability --rounds 10 --load-s 5
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
import redis.asyncio as aioredis

from bench.appproc import AES_KEY, CORP_ID, HOST, TOKEN, start_app, stop_app, wait_healthy
from bench.pgdb import BenchError
from bench.private import PrivateRedis, ServiceError
from bot.crypto import CallbackCrypto
from simulator import eventxml


@dataclass
class Round:
    setting: str
    crash: str
    acked: int = 0
    refused: int = 0  # 503 or no answer: not acknowledged, WeCom would re-send
    lost: int = 0
    seconds: float = 0.0
    acked_ids: set[str] = field(default_factory=set)

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0


def callbacks(count: int, tag: str) -> list[tuple[str, dict[str, str], bytes]]:
    crypto = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
    now = int(time.time())
    out = []
    for i in range(count):
        external_userid = f"wm{tag}{i:08d}"
        inner = eventxml.change_external_contact(CORP_ID, now, "add_external_contact", "guide_sh01_a",
                                                 external_userid, state="store_sh01")
        params, body = crypto.encrypted_callback(inner, str(now), nonce=str(1_000_000 + i))
        out.append((external_userid, params, body))
    return out


async def load(url: str, requests: list[tuple[str, dict[str, str], bytes]], connections: int, result: Round,
               stop: asyncio.Event) -> None:
    pending = iter(requests)
    timeout = aiohttp.ClientTimeout(total=5)

    async def client(http: aiohttp.ClientSession) -> None:
        for external_userid, params, body in pending:
            if stop.is_set():
                return
            try:
                async with http.post(url, params=params, data=body, timeout=timeout) as response:
                    answer = await response.text()
                    if response.status == 200 and answer == "success":
                        result.acked_ids.add(external_userid)
                    else:
                        result.refused += 1
            except (aiohttp.ClientError, TimeoutError):
                result.refused += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as http:
        await asyncio.gather(*(client(http) for _ in range(connections)))


async def stream_ids(redis_url: str, stream: str) -> set[str]:
    client = aioredis.Redis.from_url(redis_url)
    found: set[str] = set()
    try:
        start = "-"
        while True:
            entries = await client.xrange(stream, min=start, count=5000)
            for _sid, fields in entries:
                found.add(orjson.loads(fields[b"body"]).get("ExternalUserID", ""))
            if len(entries) < 5000:
                return found
            start = "(" + entries[-1][0].decode()
    finally:
        await client.aclose()


def compile_crashsim(tmp: Path) -> Path:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise BenchError("the simulated host crash needs a C compiler (gcc): install it, or pass --no-host-crash")
    out = tmp / "crashsim.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", str(out), str(Path(__file__).parent / "crashsim.c"),
                    "-ldl", "-lpthread"], check=True, capture_output=True)
    return out


async def run_setting(args: argparse.Namespace, setting: str, tmp: Path, crashsim: Path | None) -> list[Round]:
    crash = "host crash (simulated)" if crashsim else "process crash"
    workdir = tmp / f"{setting}-{'host' if crashsim else 'process'}"
    workdir.mkdir()
    redis = PrivateRedis(workdir, appendfsync=setting, preload=crashsim)
    redis.start()
    prefix = f"durability-{secrets.token_hex(3)}"
    stream = f"{{{prefix}}}:events"
    proc, port, log = start_app(workdir, "http://127.0.0.1:9", f"sqlite://{workdir}/app.sqlite3", redis.url, prefix,
                                {}, None, role="web")
    rounds: list[Round] = []
    try:
        async with aiohttp.ClientSession() as http:
            await wait_healthy(proc, f"http://{HOST}:{port}", log, http)
        url = f"http://{HOST}:{port}/wecom/callback"
        for number in range(args.rounds):
            requests = callbacks(int(args.load_s * 6000) + 5000, f"{setting[:2]}{number:02d}{secrets.token_hex(2)}")
            result = Round(setting, crash)
            stop = asyncio.Event()
            started = time.monotonic()
            load_task = asyncio.create_task(load(url, requests, args.connections, result, stop))
            await asyncio.sleep(args.load_s)
            await asyncio.to_thread(redis.kill)  # SIGKILL, mid-load
            result.seconds = time.monotonic() - started
            await asyncio.sleep(0.5)  # requests in flight now get 503 or no answer
            stop.set()
            await load_task
            await asyncio.to_thread(redis.start)
            present = await stream_ids(redis.url, stream)
            result.acked = len(result.acked_ids)
            result.lost = len(result.acked_ids - present)
            rounds.append(result)
            print(f"  {setting:<8} {crash:<22} round {number + 1}: acknowledged {result.acked} ({result.rate:.0f}/s), "
                  f"not acknowledged {result.refused}, lost after the restart {result.lost}", flush=True)
            client = aioredis.Redis.from_url(redis.url)
            await client.flushall()
            await client.aclose()
    finally:
        stop_app(proc)
        redis.stop()
    return rounds


async def bench(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="scrm-durability-") as tmp:
        crashsim = compile_crashsim(Path(tmp)) if args.host_crash else None
        results: dict[tuple[str, str], list[Round]] = {}
        for setting in args.settings:
            for preload in (None, crashsim) if crashsim else (None,):
                rounds = await run_setting(args, setting, Path(tmp), preload)
                results[setting, rounds[0].crash] = rounds
    print()
    print(f"durability — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; app --role web, private redis-server (AOF), "
          f"{args.connections} connections, Redis killed with SIGKILL after {args.load_s:g} s of load, "
          f"{args.rounds} rounds")
    print()
    print("| appendfsync | Redis killed (SIGKILL) as in a | acknowledged / round | ack rate /s (median) "
          "| acknowledged, missing after the restart |")
    print("|---|---|---:|---:|---:|")
    for (setting, crash), rounds in results.items():
        print(f"| `{setting}` | {crash} | {statistics.median(r.acked for r in rounds):.0f} | "
              f"{statistics.median(r.rate for r in rounds):.0f} | {sum(r.lost for r in rounds)} of "
              f"{sum(r.acked for r in rounds)} |")
    # The recommended setting must lose nothing acknowledged, whatever the crash.
    lost = sum(r.lost for (setting, _), rounds in results.items() if setting == "always" for r in rounds)
    return 0 if lost == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=["always", "everysec"], choices=["always", "everysec", "no"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--load-s", type=float, default=3.0, help="seconds of load before the kill (default 3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-host-crash", dest="host_crash", action="store_false",
                        help="only plain SIGKILLs (no simulated host crash; no C compiler needed)")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(bench(args))
    except (BenchError, ServiceError) as err:
        print(f"bench/durability.py: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
