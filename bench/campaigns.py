"""Campaign benchmark (issue 24): planning a campaign over 1,000,000 customers and 2,000 guides, and syncing
its results through the simulator.

    .venv/bin/python -m bench.campaigns [--customers 1000000] [--guides 2000] [--latency-ms 0] [--keep]

Generates, in a throwaway PostgreSQL database, N customers each followed by one guide (10% by a second guide
too, half of those last talked with the second one), all with the corp tag 会员, and 50,000 chat messages
from guides. Then, through the product's own services and deps:

1. preview and plan a campaign to the tag (audience, the last-talked-with guide, the stable 10% holdout, the
   per-customer frequency cap): the target is < 30 s;
2. one sent WeCom task per guide is put in the simulator with each customer's result (sent / not a friend /
   over the limit), and ``sync`` reads every task and every result page over HTTP; the same pages are then
   read by a bare loop that does nothing with them, as many tasks at once as the sync — the simulator's pace.
   Sync ÷ bare shows how much of the time is ours. ``--latency-ms`` makes every simulated WeCom call take that
   long (WeCom answers in tens of milliseconds, the simulator in well under one): with 0 the figure is our CPU
   against the simulator's; with WeCom's latency, whether our writes keep up with WeCom's pages.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import time
import uuid
from datetime import datetime

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from bench.pgdb import create_database, database_url, drop_database
from bench.welcome import cpu_seconds
from bot.app import open_deps
from bot.db import close_db, init_db
from campaigns import service
from campaigns.audience import Audience
from campaigns.models import CampaignTarget
from config.settings import Settings
from simulator.reach import CustomerResult, MassTask
from simulator.server import running_simulator
from simulator.state import SimulatorState

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
CORP_ID = "ww1436e0e65a779aee"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def backends_cpu(name: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to the bench database (same host: /proc)."""
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        pids = [int(r["pid"]) for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)]
    finally:
        await conn.close()
    return {pid: cpu_seconds(pid) for pid in pids}


class Step:
    """Wall time, this process's CPU and the database backends' CPU over a step (backends that closed during it
    are not counted: the pool keeps its connections)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.wall = self.cpu = self.pg_cpu = 0.0

    async def __aenter__(self) -> Step:
        self._pg = await backends_cpu(self.name)
        self._cpu = own_cpu()
        self._t = time.perf_counter()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t
        self.cpu = own_cpu() - self._cpu
        after = await backends_cpu(self.name)
        self.pg_cpu = sum(v - self._pg.get(pid, 0.0) for pid, v in after.items())

    def __str__(self) -> str:
        return f"{self.wall:.1f} s | {self.cpu:.1f} s | {self.pg_cpu:.1f} s"


async def generate(dsn: str, customers: int, guides: int) -> float:
    conn = await asyncpg.connect(dsn)
    started = time.perf_counter()
    try:
        await conn.execute("SELECT setseed(0.24)")
        await conn.execute("INSERT INTO store (code, name, created_at) VALUES ('sh01', '上海南京西路店', now())")
        await conn.execute(
            "INSERT INTO guide (userid, name, store_id, role, role_source, active, created_at, updated_at) "
            f"SELECT 'guide' || g, '导购' || g, 1, 'guide', '', true, now(), now() FROM generate_series(1, {guides}) g"
        )
        await conn.execute(
            "INSERT INTO customer (external_userid, name, type, gender, avatar, corp_name, first_seen_at, "
            "order_count, total_spent, updated_at) SELECT 'wm' || lpad(i::text, 10, '0'), '客户' || i, 1, 0, '', '', "
            f"now() - interval '90 days', 0, 0, now() FROM generate_series(1, {customers}) i"
        )
        await conn.execute(
            "INSERT INTO relationship (guide_id, customer_id, state, add_way, remark, description, half, created_at, "
            f"transfer_failed_reason, updated_at) SELECT 1 + (c.id % {guides}), c.id, '', 1, '', '', false, "
            "c.first_seen_at, '', now() FROM customer c"
        )
        await conn.execute(
            "INSERT INTO relationship (guide_id, customer_id, state, add_way, remark, description, half, created_at, "
            f"transfer_failed_reason, updated_at) SELECT 1 + ((c.id + 1) % {guides}), c.id, '', 1, '', '', false, "
            "c.first_seen_at + interval '1 day', '', now() FROM customer c WHERE c.id % 10 = 0"
        )
        await conn.execute(
            "INSERT INTO tag_group (wecom_id, name, \"order\", deleted) VALUES ('etG', '会员', 0, false)")
        await conn.execute(
            "INSERT INTO tag (wecom_id, group_id, name, \"order\", deleted) VALUES ('etT', 1, '会员', 0, false)")
        await conn.execute(
            "INSERT INTO customer_tag (customer_id, guide_id, tag_id, source, rule_id, evidence, in_wecom, removed, "
            "created_at, updated_at) SELECT r.customer_id, r.guide_id, 1, 'wecom', '', '{}', true, false, now(), "
            "now() FROM relationship r JOIN customer c ON c.id = r.customer_id WHERE r.created_at = c.first_seen_at"
        )
        await conn.execute(
            "INSERT INTO chat_message (msg_id, source, from_id, customer_id, content, sent_at) "
            f"SELECT 'm' || c.id, 'archive', 'guide' || (1 + ((c.id + 1) % {guides})), c.id, '在吗', "
            "now() - random() * interval '10 days' FROM customer c WHERE c.id % 20 = 0"
        )
        await conn.execute("ANALYZE")
        return time.perf_counter() - started
    finally:
        await conn.close()


def bench_settings(dsn: str, sim_url: str, prefix: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, wecom_corp_id=CORP_ID, wecom_agent_id=1000002, wecom_secret="sim-app-secret",
        wecom_token="hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", wecom_aes_key="6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
        wecom_api_base=sim_url, database_url=dsn, redis_url=REDIS_URL, scrm_redis_prefix=prefix,
        scrm_auto_migrate=False, scrm_scheduler=False, scrm_sync_tags_on_start=False,
    )


async def seed_tasks(state: SimulatorState, campaign_id: int, now: datetime) -> int:
    """One sent task per guide, in our tables and in the simulator, with each customer's result."""
    rng = random.Random(5)
    conn = await asyncpg.connect(BENCH_DSN[0])
    try:
        await conn.execute(
            "UPDATE campaign_target SET msgid = 'bench-' || guide_id WHERE campaign_id = $1 AND arm = 'treated'",
            campaign_id)
        await conn.execute(
            "INSERT INTO campaign_task (campaign_id, sender, chunk, msgid, fail_list, customers, state, created_at, "
            "reminders) SELECT $1, g.userid, 0, 'bench-' || g.id, '[]', COUNT(*), 'open', $2, '[]' "
            "FROM campaign_target t JOIN guide g ON g.id = t.guide_id WHERE t.campaign_id = $1 AND t.arm = 'treated' "
            "GROUP BY g.id, g.userid", campaign_id, now)
        rows = await conn.fetch(
            "SELECT g.userid, g.id, c.external_userid FROM campaign_target t JOIN guide g ON g.id = t.guide_id "
            "JOIN customer c ON c.id = t.customer_id WHERE t.campaign_id = $1 AND t.arm = 'treated' "
            "ORDER BY g.id, c.id", campaign_id)
    finally:
        await conn.close()
    sent_at = int(now.timestamp()) + 600
    for row in rows:
        msgid = f"bench-{row['id']}"
        task = state.reach.mass.get(msgid)
        if task is None:
            task = state.reach.mass[msgid] = MassTask(msgid, row["userid"], now.timestamp(), [], status=2,
                                                      send_time=sent_at)
        draw = rng.random()
        status = 1 if draw < 0.9 else 2 if draw < 0.95 else 3
        task.results.append(CustomerResult(row["external_userid"], status, sent_at if status == 1 else 0))
    return len(rows)


async def bare_pages(sim_url: str, token: str, msgids: list[tuple[str, str]]) -> int:
    """Every page of every task, read and thrown away (``SYNC_CONCURRENCY`` tasks at once, as the sync reads them):
    how fast the simulator serves them."""
    read = 0
    gate = asyncio.Semaphore(service.SYNC_CONCURRENCY)

    async def one(http: aiohttp.ClientSession, msgid: str, userid: str) -> None:
        nonlocal read
        async with gate:
            for api, body in (("get_groupmsg_task", {"msgid": msgid, "limit": 1000}),
                              ("get_groupmsg_send_result", {"msgid": msgid, "userid": userid, "limit": 1000})):
                cursor = ""
                while True:
                    async with http.post(f"{sim_url}/cgi-bin/externalcontact/{api}", params={"access_token": token},
                                         json=body | ({"cursor": cursor} if cursor else {})) as resp:
                        data = await resp.json()
                    read += len(data.get("send_list") or [])
                    cursor = data.get("next_cursor") or ""
                    if not cursor:
                        break

    async with aiohttp.ClientSession() as http, asyncio.TaskGroup() as group:
        for msgid, userid in msgids:
            group.create_task(one(http, msgid, userid))
    return read


BENCH_DSN: list[str] = []


async def main(args: argparse.Namespace) -> int:
    name = f"scrm_bench_campaigns_{uuid.uuid4().hex[:8]}"
    prefix = f"bench:campaigns:{uuid.uuid4().hex[:8]}"
    await create_database(ADMIN_DSN, name)
    dsn = database_url(ADMIN_DSN, name)
    BENCH_DSN.append(dsn.replace("postgres://", "postgresql://"))
    try:
        await init_db(dsn, migrate=True)
        await close_db()
        print(f"generating {args.customers:,} customers and {args.guides:,} guides in {name} …", flush=True)
        seconds = await generate(BENCH_DSN[0], args.customers, args.guides)
        print(f"  generated in {seconds:.0f} s", flush=True)
        state = SimulatorState()
        async with running_simulator(state) as sim, open_deps(bench_settings(dsn, sim.url, prefix)) as deps:
            audience = Audience(tags=("会员",))
            async with Step(name) as preview_step:
                shown = await service.preview(deps, "bench", audience)
            campaign = await service.create(deps, service.CampaignSpec("bench", audience, "会员日"))
            async with Step(name) as plan_step:
                await service.plan(deps, campaign)
            planned = await CampaignTarget.filter(campaign_id=campaign.id).count()
            print(f"preview: {shown.customers:,} customers over {len(shown.by_guide):,} guides, holdout "
                  f"{shown.holdout:,}, capped {shown.capped:,} in {preview_step.wall:.1f} s", flush=True)
            print(f"plan: {planned:,} target rows in {plan_step.wall:.1f} s", flush=True)

            results = await seed_tasks(state, campaign.id, deps.clock.now())
            if args.latency_ms > 0:
                state.faults.inject("*", latency=args.latency_ms / 1000)
            async with Step(name) as sync_step:
                synced = await service.sync(deps, campaign)
            token = await deps.wecom.tokens.get()
            msgids = [(t.msgid, t.sender) for t in state.reach.mass.values()]
            async with Step(name) as bare_step:
                bare = await bare_pages(sim.url, token, msgids)
        await close_db()
        preview_s, plan_s, sync_s, bare_s = preview_step.wall, plan_step.wall, sync_step.wall, bare_step.wall
        print()
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; every simulated WeCom call "
              f"{args.latency_ms:g} ms")
        print("| step | size | wall time | rate | CPU, this process (simulator included) | CPU, PostgreSQL |")
        print("|---|---:|---:|---:|---:|---:|")
        size = f"{args.customers:,} customers, {args.guides:,} guides"
        print(f"| preview (count per guide) | {size} | {preview_s:.1f} s | | {preview_step.cpu:.1f} s | "
              f"{preview_step.pg_cpu:.1f} s |")
        print(f"| plan (INSERT … SELECT: guide, holdout, cap) | {planned:,} targets | {plan_s:.1f} s | "
              f"{planned / plan_s:,.0f}/s | {plan_step.cpu:.1f} s | {plan_step.pg_cpu:.1f} s |")
        print(f"| sync through the simulator | {synced.tasks:,} tasks, {synced.results:,} results | {sync_s:.1f} s | "
              f"{synced.results / sync_s:,.0f}/s | {sync_step.cpu:.1f} s | {sync_step.pg_cpu:.1f} s |")
        print(f"| the same pages read and dropped (simulator's pace) | {bare:,} results | {bare_s:.1f} s | "
              f"{bare / bare_s:,.0f}/s | {bare_step.cpu:.1f} s | {bare_step.pg_cpu:.1f} s |")
        print(f"\nseeded results: {results:,}; sync ÷ bare: {sync_s / bare_s:.2f}; peak RSS {rss_mb():.0f} MB")
        ok = preview_s + plan_s < 30
        print("planning target (< 30 s) met" if ok else "PLANNING TARGET MISSED")
        return 0
    finally:
        if args.keep:
            print(f"kept database {dsn}")
        else:
            await drop_database(ADMIN_DSN, name)
        client = aioredis.Redis.from_url(REDIS_URL)
        keys = [key async for key in client.scan_iter(match=f"{{{prefix}}}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--guides", type=int, default=2_000)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="every simulated WeCom call takes this long, from the sync on (default 0)")
    parser.add_argument("--keep", action="store_true", help="keep the database for inspection")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
