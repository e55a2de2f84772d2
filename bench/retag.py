"""Full re-tag benchmark (issue 4): 1,000,000 customers with realistic orders in PostgreSQL.

    .venv/bin/python -m bench.retag [--customers 1000000] [--keep]

Generates, in a throwaway database, N customers each followed by one of 500 guides, ~2.4 orders
per buyer with a long tail (90% of customers with no purchase in the last 180 days; the top 15%
of buyers give about 38% of revenue), 150k browse signals and 20k chat messages; then runs the
full re-tag twice (first run: everything new; second: nothing changed) and reports wall time,
peak RSS of this process and how many mark_tag calls the sync would make.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.pgdb import create_database, database_url, drop_database
from bot.db import close_db, init_db
from tagging.config import load_rules
from tagging.engine import retag

ROOT = Path(__file__).resolve().parents[1]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def generate(dsn: str, customers: int) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    started = time.perf_counter()
    try:
        await conn.execute("SELECT setseed(0.42)")
        await conn.execute(
            "INSERT INTO store (code, name, created_at) VALUES ('sh01', '上海南京西路店', now()), "
            "('hz01', '杭州湖滨店', now())"
        )
        await conn.execute(
            "INSERT INTO guide (userid, name, role, active, created_at, updated_at) "
            "SELECT 'guide' || g, '导购' || g, 'guide', true, now(), now() FROM generate_series(1, 500) g"
        )
        await conn.execute(
            f"INSERT INTO customer (external_userid, name, type, gender, avatar, corp_name, first_seen_at, "
            f"order_count, total_spent, updated_at) "
            f"SELECT 'wm' || lpad(i::text, 10, '0'), '客户' || i, 1, (i % 3), '', '', "
            f"$1::timestamptz - random() * 900 * interval '1 day', 0, 0, now() "
            f"FROM generate_series(1, {customers}) i",
            NOW,
        )
        await conn.execute(
            "INSERT INTO relationship (guide_id, customer_id, state, add_way, remark, description, half, "
            "created_at, transfer_failed_reason, updated_at) "
            "SELECT 1 + (c.id % 500), c.id, CASE WHEN c.id % 10 < 4 THEN 'store_sh01' WHEN c.id % 10 < 6 "
            "THEN 'store_hz01' WHEN c.id % 50 = 7 THEN 'camp_1111_sh01' ELSE '' END, 1, '', '', false, "
            "c.first_seen_at, '', now() FROM customer c"
        )
        # Buyers: 60% of customers. Recent buyers (last order within 180 days) are 10% of all.
        # Order counts follow a long tail; amounts are lognormal-ish with the top tail richer.
        await conn.execute(
            "CREATE TEMP TABLE buyer AS SELECT c.id, "
            "CASE WHEN random() < 0.1 / 0.6 THEN random() * 170 + 1 ELSE 181 + random() * 700 END AS last_days, "
            "1 + floor(-ln(1 - random() * 0.999) * 1.4)::int AS n FROM customer c WHERE c.id % 10 < 6"
        )
        await conn.execute(
            "INSERT INTO orders (order_id, customer_id, external_userid, amount, paid_at, store_code, "
            "guide_userid, source) "
            "SELECT 'o' || b.id || '-' || k, b.id, 'wm' || lpad(b.id::text, 10, '0'), "
            "round((exp(4.6 + random() * 1.6) * CASE WHEN b.n >= 4 THEN 1.25 ELSE 1 END)::numeric, 2), "
            "$1::timestamptz - (b.last_days + (k - 1) * (20 + random() * 60)) * interval '1 day', '', '', 'bench' "
            "FROM buyer b, generate_series(1, b.n) k",
            NOW,
        )
        await conn.execute(
            "INSERT INTO signal (event_id, type, customer_id, external_userid, product_id, product_name, category, "
            "occurred_at, payload, source) "
            "SELECT 'b' || i, 'browse', 1 + (i * 7919) % $2, NULL, 'SKU' || (i % 50), '', "
            "CASE WHEN i % 3 = 0 THEN '拖鞋' ELSE '袜子' END, $1::timestamptz - random() * 20 * interval '1 day', "
            "'{}', 'bench' FROM generate_series(1, 150000) i",
            NOW, customers,
        )
        await conn.execute(
            "INSERT INTO chat_message (msg_id, source, from_id, customer_id, content, sent_at) "
            "SELECT 'm' || i, 'archive', 'x', 1 + (i * 104729) % $2, CASE WHEN i % 4 = 0 THEN '想买个礼盒送人' "
            "ELSE '什么时候到货' END, $1::timestamptz - random() * 40 * interval '1 day' "
            "FROM generate_series(1, 20000) i",
            NOW, customers,
        )
        generated = time.perf_counter() - started
        aggregate_started = time.perf_counter()
        await conn.execute(
            "UPDATE customer c SET order_count = a.n, total_spent = a.spent, first_purchase_at = a.first, "
            "last_purchase_at = a.last, purchase_cycle_days = CASE WHEN a.n >= 2 THEN "
            "EXTRACT(EPOCH FROM (a.last - a.first)) / 86400.0 / (a.n - 1) END "
            "FROM (SELECT customer_id, count(*) n, sum(amount) spent, min(paid_at) first, max(paid_at) last "
            "FROM orders GROUP BY customer_id) a WHERE a.customer_id = c.id"
        )
        aggregates = time.perf_counter() - aggregate_started
        await conn.execute("ANALYZE")
        stats = await conn.fetchrow(
            "SELECT count(*) AS customers, "
            "count(*) FILTER (WHERE last_purchase_at IS NULL OR last_purchase_at < $1::timestamptz - interval "
            "'180 days') AS asleep, (SELECT count(*) FROM orders) AS orders FROM customer", NOW,
        )
        top = await conn.fetchval(
            "WITH s AS (SELECT total_spent, ntile(100) OVER (ORDER BY total_spent DESC) p FROM customer "
            "WHERE order_count > 0) SELECT sum(total_spent) FILTER (WHERE p <= 15) / sum(total_spent) FROM s"
        )
        assert stats is not None
        return {"generate_s": generated, "aggregates_s": aggregates, "customers": stats["customers"],
                "asleep_share": stats["asleep"] / stats["customers"], "orders": stats["orders"],
                "top15_revenue_share": float(top)}
    finally:
        await conn.close()


async def create_rule_tags(dsn: str) -> None:
    """The tags the rules give, with made-up WeCom ids (the bench measures the engine, not WeCom)."""
    rules = load_rules(ROOT / "config" / "tag_rules.yaml")
    conn = await asyncpg.connect(dsn)
    try:
        for g, (group, names) in enumerate(rules.wanted_tags().items()):
            group_id = await conn.fetchval(
                'INSERT INTO tag_group (wecom_id, name, "order", deleted) VALUES ($1, $2, 0, false) RETURNING id',
                f"etG{g}", group,
            )
            for t, name in enumerate(names):
                await conn.execute(
                    'INSERT INTO tag (wecom_id, group_id, name, "order", deleted) VALUES ($1, $2, $3, 0, false)',
                    f"etT{g}_{t}", group_id, name,
                )
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> int:
    name = f"scrm_bench_{uuid.uuid4().hex[:8]}"
    await create_database(ADMIN_DSN, name)
    dsn = database_url(ADMIN_DSN, name)
    try:
        await init_db(dsn, migrate=True)
        await close_db()
        print(f"generating {args.customers:,} customers in {name} …", flush=True)
        facts = await generate(dsn.replace("postgres://", "postgresql://"), args.customers)
        await create_rule_tags(dsn.replace("postgres://", "postgresql://"))
        print(f"  generated in {facts['generate_s']:.1f}s (+ aggregates {facts['aggregates_s']:.1f}s): "
              f"{facts['orders']:,} orders, {facts['asleep_share']:.1%} no purchase in 180 days, "
              f"top 15% of buyers = {facts['top15_revenue_share']:.1%} of revenue", flush=True)
        await init_db(dsn, migrate=False)
        rules = load_rules(ROOT / "config" / "tag_rules.yaml")
        rss_before = rss_mb()
        first = await retag(rules, now=NOW)
        rss_first = rss_mb()
        second = await retag(rules, now=NOW)
        rss_second = rss_mb()
        await close_db()
        print()
        print("| run | wall time | desired tags | mark_tag calls the sync would make | peak RSS (this process) |")
        print("|---|---:|---:|---:|---:|")
        print(f"| first full re-tag (all new) | {first.seconds:.1f} s | {first.desired:,} | "
              f"{first.pending_relations:,} | {rss_first:.0f} MB |")
        print(f"| second full re-tag (nothing changed) | {second.seconds:.1f} s | {second.desired:,} | "
              f"{second.pending_relations:,} | {rss_second:.0f} MB |")
        print(f"\nRSS before the runs: {rss_before:.0f} MB. Targets: < 60 s and < 1 GB.")
        ok = first.seconds < 60 and second.seconds < 60 and rss_second < 1024
        print("targets met" if ok else "TARGET MISSED")
        return 0
    finally:
        if not args.keep:
            await drop_database(ADMIN_DSN, name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database for inspection")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
