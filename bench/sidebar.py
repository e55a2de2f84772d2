"""The sidebar's customer card: how fast ``GET /sidebar/api/card`` answers on a big corp.

A throw-away PostgreSQL database gets ``--customers`` customers (1,000,000) across 2,000 guides in
50 stores, each with a relation, ~2 orders and ~3 tags, plus leads, SOP tasks, notes and chat
messages for a share of them — all generated with set-based SQL (``generate_series``), so the
data is ready in about a minute. The customer measured has 100 orders and 50 tags, open leads,
tasks and notes. The app runs in this process (``--role web``) with real Redis; a signed session
cookie for the customer's guide is minted with the app's own signer, and the card is fetched
``--requests`` times back to back, then for as many random ordinary customers.

Target (issue 18): p95 < 50 ms for the customer with 100 orders and 50 tags on 1M customers.

    .venv/bin/python -m bench.sidebar                    # 1,000,000 customers, 500 requests
    .venv/bin/python -m bench.sidebar --customers 100000 --requests 200   # quicker

Needs PostgreSQL on 127.0.0.1:5432 (trust) and Redis on 127.0.0.1:6379; the database and the
Redis keys are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from bench.loadgen import percentile
from bench.pgdb import BenchError, create_database, database_url, drop_database

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
CORP_ID = "ww1436e0e65a779aee"
TARGET = "wmBENCHTARGET"
GUIDES = 2000
STORES = 50

# Each statement is one set-based INSERT … SELECT; $1 = customers.
SEED = [
    "INSERT INTO store (code, name, created_at) SELECT 'st' || s, '门店' || s, now() FROM generate_series(1, 50) s",
    """INSERT INTO guide (userid, name, role, active, created_at, updated_at, store_id)
       SELECT 'guide_' || g, '导购' || g, 'guide', true, now(), now(), 1 + g % 50 FROM generate_series(1, 2000) g""",
    """INSERT INTO channel_code (state, name, campaign, welcome_template, store_id)
       SELECT 'store_st' || s, '门店码' || s, '', '', s FROM generate_series(1, 50) s""",
    """INSERT INTO tag_group (wecom_id, name, "order", deleted)
       SELECT 'grp' || g, CASE g WHEN 1 THEN 'RFM分层' WHEN 2 THEN '导购标记' ELSE '兴趣' || g END, g, false
       FROM generate_series(1, 10) g""",
    """INSERT INTO tag (wecom_id, name, "order", deleted, group_id)
       SELECT 'tag' || t, '标签' || t, t, false, 1 + t % 10 FROM generate_series(1, 200) t""",
    """INSERT INTO customer (external_userid, name, type, gender, avatar, corp_name, first_seen_at,
                             last_purchase_at, order_count, total_spent, updated_at)
       SELECT 'wm' || lpad(c::text, 12, '0'), '客户' || c, 1, c % 3, '', '', now() - (c % 700) * interval '1 day',
              now() - (c % 300) * interval '1 day', 2, 200 + c % 500, now()
       FROM generate_series(1, $1::int) c""",
    """INSERT INTO relationship (state, add_way, remark, description, half, created_at, transfer_failed_reason,
                                 updated_at, channel_id, customer_id, guide_id)
       SELECT 'store_st' || (1 + c % 50), 1, '', '', false, now() - (c % 700) * interval '1 day', '', now(),
              1 + c % 50, c, 1 + c % 2000
       FROM generate_series(1, $1::int) c""",
    """INSERT INTO orders (order_id, external_userid, amount, paid_at, store_code, guide_userid, source, customer_id)
       SELECT 'o' || c || '-' || k, 'wm' || lpad(c::text, 12, '0'), 100 + (c * k) % 400,
              now() - ((c + k * 37) % 300) * interval '1 day', 'st' || (1 + c % 50), '', 'import', c
       FROM generate_series(1, $1::int) c, generate_series(1, 2) k""",
    """INSERT INTO customer_tag (source, rule_id, evidence, in_wecom, removed, created_at, updated_at,
                                 customer_id, guide_id, tag_id)
       SELECT 'rule', CASE WHEN k = 1 THEN 'rfm' ELSE 'interest' END, '{"R": 12, "F": 2, "M": 400}', true, false,
              now(), now(), c, 1 + c % 2000, 1 + (c + k * 7) % 200
       FROM generate_series(1, $1::int) c, generate_series(1, 3) k""",
    """INSERT INTO lead (key, pattern, priority, score, guide_userid, owner_userid, store_code, reason, facts, status,
                         created_at, card_seq, response_code, customer_id)
       SELECT 'l' || c, 'high_intent', 40, 9, 'guide_' || (1 + c % 2000), 'guide_' || (1 + c % 2000), '', '高意向',
              '{"score": 9}', 'sent', now() - (c % 30) * interval '1 day', 1, '', c
       FROM generate_series(1, $1::int, 10) c""",
    """INSERT INTO sop_task (playbook, step, occurrence, due_at, status, action, goal, reason, detail, value,
                             suggested_text, created_at, done_by, customer_id, guide_id)
       SELECT 'new_customer', 'd7', 'x' || c, now() - (c % 20) * interval '1 day',
              CASE WHEN c % 3 = 0 THEN 'open' ELSE 'done' END, 'message', '', '第7天跟进', '', 1, '您好～', now(), '',
              c, 1 + c % 2000
       FROM generate_series(1, $1::int, 5) c""",
    """INSERT INTO sidebar_note (text, created_at, customer_id, guide_id)
       SELECT '跟进记录' || c, now() - (c % 60) * interval '1 day', c, 1 + c % 2000
       FROM generate_series(1, $1::int, 20) c""",
    """INSERT INTO chat_message (msg_id, source, from_id, content, sent_at, customer_id)
       SELECT 'm' || c || '-' || k, 'archive', 'wm' || c, '你好', now() - ((c + k) % 90) * interval '1 day', c
       FROM generate_series(1, $1::int, 4) c, generate_series(1, 3) k""",
]

# The customer measured: 100 orders, 50 tags (on two guides' relations), leads, tasks, notes.
TARGET_SEED = [
    f"""INSERT INTO customer (external_userid, name, type, gender, avatar, corp_name, first_seen_at,
                              last_purchase_at, order_count, total_spent, updated_at)
        VALUES ('{TARGET}', '周晓雯', 1, 2, '', '', now() - interval '400 days', now() - interval '3 days', 100,
                45678, now())""",
    f"""INSERT INTO relationship (state, add_way, remark, description, half, created_at, transfer_failed_reason,
                                  updated_at, channel_id, customer_id, guide_id)
        SELECT 'store_st2', 1, '周姐', '', false, now() - interval '400 days', '', now(), 2, id, g
        FROM customer, (VALUES (1), (2)) v(g) WHERE external_userid = '{TARGET}'""",
    f"""INSERT INTO orders (order_id, external_userid, amount, paid_at, store_code, guide_userid, source, customer_id)
        SELECT 'ot-' || k, '{TARGET}', 100 + k * 7, now() - k * interval '4 days', 'st2', '', 'import', c.id
        FROM customer c, generate_series(1, 100) k WHERE c.external_userid = '{TARGET}'""",
    f"""INSERT INTO customer_tag (source, rule_id, evidence, in_wecom, removed, created_at, updated_at,
                                  customer_id, guide_id, tag_id)
        SELECT CASE WHEN t % 5 = 0 THEN 'guide' ELSE 'rule' END, CASE WHEN t = 1 THEN 'rfm' ELSE 'interest' END,
               '{{"R": 3, "F": 100, "M": 45678}}', true, false, now(), now(), c.id, 1 + t % 2, t
        FROM customer c, generate_series(1, 50) t WHERE c.external_userid = '{TARGET}'""",
    f"""INSERT INTO lead (key, pattern, priority, score, guide_userid, owner_userid, store_code, reason, facts, status,
                          created_at, card_seq, response_code, customer_id)
        SELECT 'lt' || k, 'cart_abandoned', 80, 9, 'guide_1', 'guide_1', 'st2', '加购未付款', '{{"amount": "199"}}',
               'sent', now() - k * interval '1 hour', 1, '', c.id
        FROM customer c, generate_series(1, 3) k WHERE c.external_userid = '{TARGET}'""",
    f"""INSERT INTO sop_task (playbook, step, occurrence, due_at, status, action, goal, reason, detail, value,
                              suggested_text, created_at, done_by, customer_id, guide_id)
        SELECT 'post_purchase', 'd' || k, 'ot-' || k, now() + k * interval '1 day', 'open', 'message', '', '购后关怀',
               '', 1, '周姐，上次的鞋子穿着还合脚吗？', now(), '', c.id, 1
        FROM customer c, generate_series(1, 5) k WHERE c.external_userid = '{TARGET}'""",
    f"""INSERT INTO sidebar_note (text, created_at, customer_id, guide_id)
        SELECT '跟进记录 ' || k, now() - k * interval '1 day', c.id, 1
        FROM customer c, generate_series(1, 30) k WHERE c.external_userid = '{TARGET}'""",
    "ANALYZE",
]


async def seed(dsn: str, customers: int) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        for statement in SEED:
            if "$1" in statement:
                await conn.execute(statement, customers)
            else:
                await conn.execute(statement)
        for statement in TARGET_SEED:
            await conn.execute(statement)
    finally:
        await conn.close()
    return time.perf_counter() - started


async def measure(url: str, cookie: str, external_userids: list[str]) -> list[float]:
    timings: list[float] = []
    async with aiohttp.ClientSession(cookies={"scrm_sidebar": cookie}) as http:
        for external_userid in external_userids:
            started = time.perf_counter()
            async with http.get(f"{url}/sidebar/api/card", params={"external_userid": external_userid}) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise BenchError(f"card answered {resp.status}: {body[:200]!r}")
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def report(label: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    print(f"{label}: n={len(ordered)} p50={percentile(ordered, 50):.1f} ms p95={percentile(ordered, 95):.1f} ms "
          f"p99={percentile(ordered, 99):.1f} ms max={ordered[-1]:.1f} ms")


async def run(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import create_app
    from bot.db import migrate
    from config.settings import Settings
    from sidebar.session import SessionSigner, derive_keys

    name = f"scrm_bench_sidebar_{uuid.uuid4().hex[:8]}"
    prefix = f"bench:sidebar:{uuid.uuid4().hex[:8]}"
    await create_database(ADMIN_DSN, name)
    dsn = database_url(ADMIN_DSN, name)
    try:
        await migrate(dsn)
        print(f"seeding {args.customers:,} customers …", flush=True)
        seconds = await seed(dsn.replace("postgres://", "postgresql://"), args.customers)
        print(f"seeded in {seconds:.0f} s", flush=True)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, wecom_corp_id=CORP_ID, wecom_agent_id=1000002, wecom_secret="bench-secret",
            wecom_token="hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", wecom_aes_key="6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
            wecom_api_base="http://127.0.0.1:9", database_url=dsn, redis_url=REDIS_URL, scrm_redis_prefix=prefix,
            scrm_auto_migrate=False, scrm_scheduler=False, scrm_sync_tags_on_start=False, scrm_sidebar_local=True,
        )
        signer = SessionSigner(derive_keys("", "", "bench-secret"), 7200)
        runner = web.AppRunner(create_app(settings, role="web"), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}"
        try:
            cookie = signer.issue(CORP_ID, "guide_1", time.time())
            await measure(url, cookie, [TARGET] * 20)  # warm-up: connections, plans, caches
            report("card, 100 orders + 50 tags", await measure(url, cookie, [TARGET] * args.requests))
            rng = random.Random(7)
            # Customers of guide_1: c % 2000 == 0 → guide_id 1.
            sample = [f"wm{(2000 * rng.randrange(1, args.customers // 2000)):012d}" for _ in range(args.requests)]
            report("card, random ordinary customers", await measure(url, cookie, sample))
        finally:
            await runner.cleanup()
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
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="keep the database (to EXPLAIN queries); drop it yourself")
    try:
        return asyncio.run(run(parser.parse_args()))
    except BenchError as err:
        print(f"bench: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
