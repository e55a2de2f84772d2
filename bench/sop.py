"""SOP sweep benchmark (issue 7): 1,000,000 customers in PostgreSQL with orders, items and tags,
the six shipped playbooks (holdouts as shipped).

    .venv/bin/python -m bench.sop [--customers 1000000] [--keep]

Generates the data set-based (INSERT … SELECT generate_series) in a throwaway database, then:
1. a full sweep that finds every step due on one day (a 24 h window: every timed step of every
   playbook, event steps over the day), and renders the suggested texts of the new tasks;
2. the same sweep again (everything already exists: the unique key makes it a no-op);
3. an idle tick: the one-minute window of an ordinary minute, with goal closing.
Prints wall time and peak RSS of this process.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench.pgdb import create_database, database_url, drop_database
from bot.db import close_db, init_db
from bot.templates import load_templates
from customers.config import load_org
from sop.config import load_playbooks
from sop.engine import close_by_goals, fill_suggestions, sweep

ROOT = Path(__file__).resolve().parents[1]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TZ = "Asia/Shanghai"
# The swept day: Tuesday 10 March 2026 (Shanghai), not a holiday.
DAY_START = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
NOW = DAY_START + timedelta(days=1)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def generate(dsn: str, n: int) -> None:
    conn = await asyncpg.connect(dsn)
    now = "TIMESTAMPTZ '2026-03-10 00:00:00+08'"
    try:
        await conn.execute("INSERT INTO store (code, name, created_at) VALUES ('sh01', '上海南京西路店', now()), "
                           "('hz01', '杭州湖滨店', now())")
        await conn.execute(
            "INSERT INTO guide (userid, name, store_id, role, active, created_at, updated_at) "
            "SELECT 'guide' || g, '导购' || g, 1 + g % 2, 'guide', TRUE, now(), now() FROM generate_series(1, 500) g"
        )
        # Customers: added over two years; 60% with a birthday; aggregates filled below.
        await conn.execute(
            "INSERT INTO customer (id, external_userid, name, type, gender, avatar, corp_name, first_seen_at, "
            "order_count, total_spent, birthday, updated_at) "
            f"SELECT i, 'wm' || i, '客户' || i, 1, 0, '', '', {now} - (i % 730) * INTERVAL '1 day', 0, 0, "
            "CASE WHEN i % 5 < 3 THEN DATE '1970-01-01' + (i * 37 % 18000) END, now() "
            f"FROM generate_series(1, {n}) i"
        )
        await conn.execute(
            "INSERT INTO relationship (guide_id, customer_id, state, add_way, remark, description, half, created_at, "
            "transfer_failed_reason, updated_at) "
            f"SELECT 1 + i % 500, i, '', 1, '', '', FALSE, {now} - (i % 730) * INTERVAL '1 day' "
            "- (i % 1440) * INTERVAL '1 minute', '', now() FROM generate_series(1, {n}) i".replace("{n}", str(n))
        )
        # Orders: 60% of customers bought, ~2 orders each, over 400 days; one item each.
        await conn.execute(
            "INSERT INTO orders (order_id, customer_id, external_userid, amount, paid_at, store_code, guide_userid, "
            "source) SELECT 'O' || i || '-' || k, i, 'wm' || i, 100 + (i * k) % 900, "
            f"{now} - ((i * 13 + k * 97) % 400) * INTERVAL '1 day' - (i % 600) * INTERVAL '1 minute', 'sh01', '', "
            f"'import' FROM generate_series(1, {n}) i, generate_series(1, 2) k WHERE i % 5 < 3"
        )
        await conn.execute(
            "INSERT INTO order_item (order_id, product_id, product_name, category, quantity, price) "
            "SELECT o.id, 'SKU-' || (o.id % 50), '商品' || (o.id % 50), "
            "(ARRAY['面霜', '精华', '洗护', '彩妆', '香水'])[1 + o.id % 5], 1, o.amount FROM orders o"
        )
        await conn.execute(
            "UPDATE customer c SET order_count = a.n, total_spent = a.s, first_purchase_at = a.f, "
            "last_purchase_at = a.l FROM (SELECT customer_id, COUNT(*) n, SUM(amount) s, MIN(paid_at) f, "
            "MAX(paid_at) l FROM orders GROUP BY customer_id) a WHERE a.customer_id = c.id"
        )
        # Lifecycle tags: 沉睡 entered over the last 30 days (20%), 活跃 (25%).
        await conn.execute(
            "INSERT INTO tag_group (wecom_id, name, \"order\", deleted) VALUES ('g1', '生命周期', 0, FALSE)"
        )
        await conn.execute("INSERT INTO tag (wecom_id, group_id, name, \"order\", deleted) VALUES "
                           "('t-sleep', 1, '沉睡', 0, FALSE), ('t-active', 1, '活跃', 0, FALSE)")
        await conn.execute(
            "INSERT INTO customer_tag (customer_id, guide_id, tag_id, source, rule_id, evidence, in_wecom, removed, "
            "created_at, updated_at) SELECT i, 1 + i % 500, CASE WHEN i % 20 < 4 THEN 1 ELSE 2 END, 'rule', "
            f"'lifecycle', '{{}}', TRUE, FALSE, {now} - (i % 30) * INTERVAL '1 day' - (i % 1440) * INTERVAL "
            f"'1 minute', now() FROM generate_series(1, {n}) i WHERE i % 20 < 9"
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def run(n: int, keep: bool) -> None:
    name = f"scrm_bench_sop_{uuid.uuid4().hex[:6]}"
    await create_database(ADMIN_DSN, name)
    dsn = database_url(ADMIN_DSN, name)
    try:
        await init_db(dsn, migrate=True)
        started = time.perf_counter()
        await generate(dsn.replace("postgres://", "postgresql://"), n)
        print(f"generated {n:,} customers in {time.perf_counter() - started:.1f}s")
        config = ROOT / "config"
        templates = load_templates(config / "templates.yaml")
        playbooks = load_playbooks(config, templates, load_org(config / "org.yaml", templates))
        print(f"playbooks: {', '.join(p.id for p in playbooks.playbooks)}")

        started = time.perf_counter()
        result = await sweep(playbooks, since=DAY_START, until=NOW, tz=TZ, overlap=timedelta(minutes=15))
        swept = time.perf_counter() - started
        filled = await fill_suggestions(playbooks, templates)
        total = time.perf_counter() - started
        print(f"full sweep of one day: {result.created:,} task rows ({result.by_playbook}) in {swept:.1f}s "
              f"({result.statements} statements); suggested texts for {filled:,} tasks: total {total:.1f}s; "
              f"peak RSS {rss_mb():.0f} MB")

        started = time.perf_counter()
        again = await sweep(playbooks, since=DAY_START, until=NOW, tz=TZ, overlap=timedelta(minutes=15))
        print(f"the same sweep again: {again.created} new rows in {time.perf_counter() - started:.1f}s")

        timings = []
        for minute in range(5):  # ordinary minutes of the next day (no timed step falls in them)
            until = NOW + timedelta(hours=5, minutes=minute + 1)
            started = time.perf_counter()
            await sweep(playbooks, since=until - timedelta(minutes=1), until=until, tz=TZ,
                        overlap=timedelta(minutes=15))
            await close_by_goals(playbooks, since=until - timedelta(minutes=16), now=until)
            timings.append(time.perf_counter() - started)
        print(f"idle tick (1-minute window + goals): median {sorted(timings)[2] * 1000:.0f} ms, "
              f"max {max(timings) * 1000:.0f} ms; peak RSS {rss_mb():.0f} MB")
    finally:
        await close_db()
        if not keep:
            await drop_database(ADMIN_DSN, name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.customers, args.keep))
