"""Issue 29's flood: anonymous sidebar logins with ~8 KB ``next`` values against the real app.

The app (web role) runs in this process on a private ``redis-server`` capped like a small
production one (``--maxmemory 40mb --maxmemory-policy noeviction``, the README's setting), with
the WeCom simulator beside it. ``--requests`` logins (10,000) are sent from one address, no
cookies kept, while a signed WeCom callback is sent every ``--callback-every`` logins. Reported:
Redis's ``used_memory`` before and after, the answers (302 to WeCom's OAuth page, 429 past the
limit), every callback's status, and the time taken.

Done when (issue 29): the logins add less than 1 MB to Redis, every signed callback is accepted
(200), and the flood is answered 429 past ``SCRM_SIDEBAR_LOGIN_PER_MINUTE``.

    .venv/bin/python -m bench.budgets                  # 10,000 logins
    .venv/bin/python -m bench.budgets --requests 2000  # quicker

Needs ``redis-server`` on the PATH; the private server and its files are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

from bench.private import PrivateRedis

NEXT = "/sidebar/?a=" + "x" * 8000  # as long as fits aiohttp's 8,190-byte request line


async def memory(url: str) -> tuple[int, int, int]:
    """(used_memory, MEMORY USAGE summed over every key, keys): used_memory also counts each
    client connection's buffers (~20 KB each), which the app's pool opens as the load rises."""
    client = aioredis.Redis.from_url(url)
    try:
        used = int((await client.info("memory"))["used_memory"])
        keys = [key async for key in client.scan_iter(count=1000)]
        data = sum([int(await client.memory_usage(key, samples=0) or 0) for key in keys])
        return used, data, len(keys)
    finally:
        await client.aclose()


async def run(requests: int, concurrency: int, callback_every: int, workdir: Path, redis_url: str) -> int:
    from bot.app import create_app
    from bot.crypto import CallbackCrypto
    from config.settings import Settings
    from simulator.callbacks import CallbackSender
    from simulator.server import running_simulator
    from simulator.state import SimulatorState

    state = SimulatorState()
    async with running_simulator(state) as sim:
        settings = Settings(
            _env_file=None, wecom_corp_id=state.corp_id, wecom_agent_id=state.agent_id, wecom_secret=state.secret,
            wecom_token=state.callback_token, wecom_aes_key=state.encoding_aes_key, wecom_api_base=sim.url,
            database_url=f"sqlite://{workdir}/bench.sqlite3", redis_url=redis_url, log_level="WARNING",
            scrm_sidebar_local=True, scrm_sidebar_oauth_base=sim.url, scrm_scheduler=False,
            scrm_sync_tags_on_start=False,
        )
        app = create_app(settings, role="web")
        from aiohttp import web

        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        try:
            before = await memory(redis_url)
            statuses: Counter[int] = Counter()
            callbacks: list[int | None] = []
            slots = asyncio.Semaphore(concurrency)
            async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
                sender = CallbackSender(CallbackCrypto(state.callback_token, state.encoding_aes_key, state.corp_id),
                                        f"{url}/wecom/callback", http, agent_id=state.agent_id)

                async def login(i: int) -> None:
                    async with slots:
                        if i % callback_every == 0:
                            state.add_external_contact(f"wmFLOOD{i:06d}", "洪女士")
                            report = await sender.send(sender.add_external_contact("guide01", f"wmFLOOD{i:06d}"))
                            callbacks.append(report.statuses[0] if report.statuses else None)
                        async with http.get(f"{url}/sidebar/login", params={"next": NEXT},
                                            allow_redirects=False) as resp:
                            statuses[resp.status] += 1
                            await resp.read()

                started = time.perf_counter()
                await asyncio.gather(*(login(i) for i in range(requests)))
                elapsed = time.perf_counter() - started
            after = await memory(redis_url)
        finally:
            await runner.cleanup()
    grown = after[1] - before[1]
    accepted = sum(1 for status in callbacks if status == 200)
    print(f"logins: {requests} with a {len(NEXT)}-character next, {concurrency} at a time, in {elapsed:.1f} s "
          f"({requests / elapsed:.0f}/s)")
    print(f"answers: {dict(sorted(statuses.items()))}")
    print(f"redis used_memory: {before[0]:,} -> {after[0]:,} bytes ({after[0] - before[0]:+,}, client buffers "
          f"included); data: {before[1]:,} -> {after[1]:,} bytes ({grown:+,}, the callbacks' events included); "
          f"keys: {before[2]} -> {after[2]}")
    print(f"signed callbacks during the flood: {accepted}/{len(callbacks)} accepted (200)")
    ok = grown < 1 << 20 and accepted == len(callbacks) and statuses.get(429, 0) > 0
    print("met" if ok else "NOT met")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--callback-every", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-budgets-") as tmp:
        workdir = Path(tmp)
        redis = PrivateRedis(workdir, appendfsync="everysec")
        redis.start()
        try:
            asyncio.run(_capped(redis.url))
            return asyncio.run(run(args.requests, args.concurrency, args.callback_every, workdir, redis.url))
        finally:
            redis.stop()


async def _capped(url: str) -> None:
    """The issue's Redis: 40 MB, and nothing evicted (a full Redis refuses writes)."""
    client = aioredis.Redis.from_url(url)
    try:
        await client.config_set("maxmemory", "40mb")
        await client.config_set("maxmemory-policy", "noeviction")
    finally:
        await client.aclose()


if __name__ == "__main__":
    sys.exit(main())
