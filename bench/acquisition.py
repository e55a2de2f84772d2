"""The member acquisition funnel on a million members (PostgreSQL): ``python -m bench.acquisition``.

A throw-away database gets 200 stores of 10 guides and ``--members`` members made with SQL
(``generate_series``): every one assigned; 15 % added (by link, code, phone or unionid) as customers, a
fifth of whom bought; 2 % recycled, 1 % parked. Then ``acquisition.report.funnel`` — what
``scrm acquisition funnel`` and the managers' daily lines run — is timed, three runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime

from acquisition.report import funnel
from bench.pgdb import BenchError, create_database, database_url, drop_database
from bot.db import close_db, init_db
from bot.sqldialect import connection

STORES, GUIDES_PER_STORE = 200, 10
NOW = datetime(2026, 12, 1, tzinfo=UTC)

_FILL = [
    """INSERT INTO store (id, code, name, created_at)
       SELECT s, 's' || s, '门店' || s, now() FROM generate_series(1, {stores}) s""",
    """INSERT INTO guide (id, userid, name, store_id, role, role_source, active, created_at, updated_at)
       SELECT g, 'g' || g, '导购' || g, 1 + (g - 1) / {per_store}, 'guide', '', true, now(), now()
       FROM generate_series(1, {guides}) g""",
    """INSERT INTO customer (id, external_userid, unionid, name, type, gender, avatar, corp_name, first_seen_at,
                             order_count, total_spent, updated_at)
       SELECT c, 'wm' || c, 'u' || c, '', 1, 0, '', '', now(), 0, 0, now() FROM generate_series(1, {customers}) c""",
    """INSERT INTO orders (order_id, customer_id, external_userid, unionid, amount, paid_at, store_code,
                           guide_userid, source, sender)
       SELECT 'o' || c, c, 'wm' || c, 'u' || c, 199, $1::timestamptz - ((c % 40) || ' days')::interval, '', '',
              'import', '' FROM generate_series(1, {buyers}) c""",
    # Member i: store 1 + i % stores, guide one of that store's; the first `customers` are added (15 %).
    """INSERT INTO acq_member (member_id, phone, name, store_id, unionid, wanted_guide, batch, digest, guide_id,
                               task_status, assigned_at, recycled, past_guides, parked_at, customer_id, added_at,
                               added_by, came_by, matched_by, imported_at, updated_at)
       SELECT 'M' || i, '+86139' || lpad(i::text, 8, '0'), '', 1 + i % {stores}, NULL, '', 'bench', '',
              1 + (i % {stores}) * {per_store} + (i / {stores}) % {per_store},
              CASE WHEN i <= {customers} THEN 'done' WHEN i % 100 = 0 THEN 'parked' ELSE 'open' END,
              $1::timestamptz - ((i % 10) || ' days')::interval,
              CASE WHEN i % 50 = 0 THEN 1 ELSE 0 END, '[]'::jsonb, NULL,
              CASE WHEN i <= {customers} THEN i END,
              CASE WHEN i <= {customers} THEN $1::timestamptz - ((i % 45) || ' days')::interval END,
              '', CASE WHEN i > {customers} THEN '' WHEN i % 4 = 0 THEN 'link' WHEN i % 4 = 1 THEN 'code'
                       ELSE 'guide' END,
              CASE WHEN i > {customers} THEN '' WHEN i % 4 = 0 THEN 'state' WHEN i % 4 = 2 THEN 'phone'
                   ELSE 'unionid' END,
              $1::timestamptz - interval '20 days', now()
       FROM generate_series(1, {members}) i""",
    "ANALYZE",
]


async def run(admin_dsn: str, members: int) -> None:
    name = f"scrm_bench_acq_{uuid.uuid4().hex[:8]}"
    await create_database(admin_dsn, name)
    try:
        await init_db(database_url(admin_dsn, name))
        conn = connection()
        sizes = {"stores": STORES, "per_store": GUIDES_PER_STORE, "guides": STORES * GUIDES_PER_STORE,
                 "customers": members * 15 // 100, "buyers": members * 3 // 100, "members": members}
        started = time.perf_counter()
        for statement in _FILL:
            await conn.execute_query(statement.format(**sizes), [NOW] if "$1" in statement else None)
        print(f"filled {members:,} members, {sizes['customers']:,} added, {sizes['buyers']:,} buyers in "
              f"{time.perf_counter() - started:.1f}s")
        for attempt in range(3):
            started = time.perf_counter()
            figures = await funnel(NOW, 2.0)
            elapsed = time.perf_counter() - started
            total = figures["total"]
            print(f"run {attempt + 1}: funnel of {total['imported']:,} members, {len(figures['stores'])} stores, "
                  f"{len(figures['guides']):,} guides in {elapsed:.2f}s (added {total['added']:,}, "
                  f"overdue {total['overdue']:,}, bought_30d {total['bought_30d']:,})")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        await close_db()
        await drop_database(admin_dsn, name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--pg", default=os.environ.get("SCRM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    try:
        asyncio.run(run(args.pg, args.members))
    except BenchError as err:
        print(f"bench: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
