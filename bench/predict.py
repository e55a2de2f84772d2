"""Purchase predictions (issues 19 and 27): scoring time at 1,000,000 customers, the nightly run's peak memory, and
what shop and chat signals add (SYNTHETIC data).

    .venv/bin/python -m bench.predict [--customers 1000000] [--nightly] [--signals-customers 50000]

1. Scoring (in this process): a synthetic brand (``predict/synthetic.py``) of N customers over two years
   (purchases only). Timed apart, wall and CPU (all threads): the back-test on a 200k sample, then for a
   learned method (the stacked model) and a rule (RFM) chosen: the fits
   (``scoring.fit_now``: BG/NBD, Gamma-Gamma, the models on a 200k sample) and the scoring of everyone
   (``scoring.score``: features today, BG/NBD's figures, the model's P(buy) and counts, calibration,
   ranks, what a guide reads), and the exact reasons of the best-ranked 50,000 apart.
2. ``--nightly``: the same brand in a throw-away PostgreSQL database (customers and orders), then
   ``scrm predict run`` in a fresh process under ``/usr/bin/time -v``: what the nightly job itself
   takes (reading the orders, the back-test, the fits, scoring, reasons, storing a million rows), its
   peak RSS, and the CPU of its PostgreSQL backends.
3. SYNTHETIC signals: a smaller brand with browse / cart / coupon / chat events, back-tested with
   and without them (same customers, same purchases).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import numpy as np

from bench.appproc import AES_KEY, AGENT_ID, CORP_ID, ROOT, SECRET, TOKEN
from bench.pgdb import create_database, database_url, drop_database
from bot.db import close_db, init_db
from predict.backtest import evaluate
from predict.features import snapshot
from predict.history import Events, History, day_of
from predict.scoring import BACKTEST_CUSTOMERS, HORIZON, REASON_CUSTOMERS, fit_now, score
from predict.synthetic import synthetic_brand

DAYS = 730
START, TODAY = 19_000, 19_000 + DAYS  # the signals part
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
TIMEZONE = "Asia/Shanghai"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    """Wall and CPU seconds (every thread of this process) of a ``with`` block."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:.1f}s wall, {self.cpu:.1f}s CPU"


def scale(customers: int, today: int) -> None:
    with Timer() as t:
        history = synthetic_brand(customers, days=DAYS, start_day=today - DAYS, signals=False)
    print(f"generated {customers:,} customers, {len(history.day):,} purchase days: {t}", flush=True)
    with Timer() as t:
        evaluation = evaluate(history.sample(BACKTEST_CUSTOMERS), today - HORIZON, HORIZON)
    print(f"back-test on {min(customers, BACKTEST_CUSTOMERS):,} (6 methods, intervals, calibration): {t}; "
          f"the brand's own choice: {evaluation.chosen}", flush=True)
    for chosen in ("ensemble", "rfm"):
        with Timer() as t:
            now = snapshot(history, today, HORIZON)
            fitted = fit_now(history, today, now, evaluation, chosen=chosen)
        print(f"[{chosen}] fits (features today, BG/NBD on 100k, Gamma-Gamma, the models on 200k): {t}", flush=True)
        del now
        with Timer() as t:
            now = snapshot(history, today, HORIZON)
            scored = score(now, fitted, reasons=0)
        print(f"[{chosen}] SCORING {len(scored.rows):,} customers (features today, BG/NBD's figures, the chosen "
              f"method's score and counts, calibration, ranks): {t}; load {os.getloadavg()[0]:.1f}", flush=True)
        if chosen == "ensemble":
            with Timer() as t:
                scored = score(now, fitted)
            print(f"[{chosen}] the same with the exact reasons of the best-ranked {REASON_CUSTOMERS:,}: {t}",
                  flush=True)
            with Timer() as t:
                dicts = sum(len(scored.why.rows(start, start + 5000)) for start in range(0, len(scored.rows), 5000))
            print(f"[{chosen}] what a guide reads, as {dicts:,} dicts (5,000 at a time, as they are stored): {t}",
                  flush=True)
        del now, scored, fitted
    print(f"peak RSS of this process {rss_mb():,.0f} MB (the generator's arrays included); "
          f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)


async def _load(dsn: str, history: History, today: int) -> float:
    """The brand's customers and orders, as ``scrm import orders`` leaves them (orders paid at noon local)."""
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        stamp = datetime.now(UTC)
        await conn.execute(
            "INSERT INTO customer (external_userid, name, type, gender, avatar, corp_name, first_seen_at, order_count, "
            "total_spent, updated_at) SELECT e, '', 1, 0, '', '', $2, 0, 0, $2 "
            "FROM unnest($1::text[]) WITH ORDINALITY AS t(e, i) ORDER BY i", list(history.ids), stamp)
        first_id = await conn.fetchval("SELECT min(id) FROM customer")
        await conn.execute("CREATE UNLOGGED TABLE bench_orders (n bigint, i bigint, day int, amount float8)")
        step = 500_000
        for start in range(0, len(history.day), step):
            part = slice(start, start + step)
            records = zip(range(start, start + len(history.day[part])), history.customer[part].tolist(),
                          history.day[part].tolist(), history.amount[part].tolist(), strict=True)
            await conn.copy_records_to_table("bench_orders", records=records, columns=["n", "i", "day", "amount"])
        await conn.execute(
            "INSERT INTO orders (order_id, customer_id, external_userid, amount, paid_at, store_code, guide_userid, "
            "source, sender) SELECT 'o' || o.n, c.id, c.external_userid, round(o.amount::numeric, 2), "
            "timestamptz '1970-01-01 04:00:00+00' + o.day * interval '1 day', '', '', 'bench', '' "
            "FROM bench_orders o JOIN customer c ON c.id = o.i + $1 ORDER BY o.n", first_id)
        await conn.execute("DROP TABLE bench_orders")
        await conn.execute("ANALYZE")
        assert today == day_of(datetime.now(ZoneInfo(TIMEZONE)))
    finally:
        await conn.close()
    return time.perf_counter() - started


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _backend_cpu(name: str, seen: dict[int, float], stop: asyncio.Event) -> None:
    """The CPU seconds of each PostgreSQL backend serving database ``name``, read every half second."""
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        while not stop.is_set():
            for row in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", name):
                seen[row["pid"]] = max(seen.get(row["pid"], 0.0), _cpu_seconds(row["pid"]))
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def nightly(customers: int, today: int) -> None:
    history = synthetic_brand(customers, days=DAYS, start_day=today - DAYS, signals=False)
    name = f"scrm_bench_{uuid.uuid4().hex[:8]}"
    await create_database(ADMIN_DSN, name)
    dsn = database_url(ADMIN_DSN, name)
    try:
        await init_db(dsn, migrate=True)
        await close_db()
        loaded = await _load(dsn.replace("postgres://", "postgresql://"), history, today)
        print(f"\nloaded {customers:,} customers and {len(history.day):,} orders into {name} in {loaded:.0f}s",
              flush=True)
        del history
        env = dict(os.environ) | {
            "WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": str(AGENT_ID), "WECOM_SECRET": SECRET, "WECOM_TOKEN": TOKEN,
            "WECOM_AES_KEY": AES_KEY, "DATABASE_URL": dsn, "REDIS_URL": "redis://127.0.0.1:6379/0",
            "SCRM_REDIS_PREFIX": f"{name}:", "SCRM_TIMEZONE": TIMEZONE, "LOG_LEVEL": "WARNING",
        }
        seen: dict[int, float] = {}
        stop = asyncio.Event()
        watcher = asyncio.create_task(_backend_cpu(name, seen, stop))
        load = os.getloadavg()
        proc = await asyncio.create_subprocess_exec(
            "/usr/bin/time", "-v", str(ROOT / ".venv" / "bin" / "scrm"), "predict", "run", env=env, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        stop.set()
        await watcher
        text = err.decode()

        def field(label: str) -> str:
            found = re.search(rf"{re.escape(label)}: (.+)", text)
            return found.group(1).strip() if found else "?"

        if proc.returncode != 0:
            print(text[-3000:])
        user, system = float(field("User time (seconds)")), float(field("System time (seconds)"))
        print(f"scrm predict run: {out.decode().strip()}")
        peak = int(field("Maximum resident set size (kbytes)")) / 1024
        print(f"  wall {field('Elapsed (wall clock) time (h:mm:ss or m:ss)')}, CPU {user + system:.1f}s "
              f"(user {user:.1f}, system {system:.1f}); peak RSS {peak:,.0f} MB; "
              f"PostgreSQL backends' CPU {sum(seen.values()):.1f}s; load average at the start {load[0]:.1f}, "
              f"at the end {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        await drop_database(ADMIN_DSN, name)


def signals(customers: int) -> None:
    history = synthetic_brand(customers, days=DAYS, start_day=START, seed=1)
    bare = History(history.ids, history.customer, history.day, history.amount, history.quantity,
                   np.zeros_like(history.channel), Events.empty())
    print(f"\nSYNTHETIC signals: {customers:,} customers, {len(history.events.day):,} events")
    print("| horizon | features | model AUC | ensemble AUC | lift@10% | BG/NBD AUC | RFM AUC | lifecycle AUC "
          "| chosen |")
    print("|---|---|---|---|---|---|---|---|---|")
    for horizon in (30, 90):
        for label, data in (("purchases only", bare), ("+ browse/cart/coupon/chat, channel", history)):
            found = evaluate(data, TODAY - horizon, horizon)
            m = found.methods
            print(f"| {horizon} d | {label} | {m['model']['auc']:.3f} | {m['ensemble']['auc']:.3f} | "
                  f"{m['model']['lift10']:.2f} | {m['bgnbd']['auc']:.3f} | {m['rfm']['auc']:.3f} | "
                  f"{m['lifecycle']['auc']:.3f} | {found.chosen} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--no-scoring", action="store_true", help="skip the in-process scoring measurement")
    parser.add_argument("--nightly", action="store_true", help="the nightly job in a fresh process on PostgreSQL")
    parser.add_argument("--signals-customers", type=int, default=50_000)
    args = parser.parse_args()
    today = day_of(datetime.now(ZoneInfo(TIMEZONE)))
    if args.customers and not args.no_scoring:
        scale(args.customers, today)
    if args.customers and args.nightly:
        asyncio.run(nightly(args.customers, today))
    if args.signals_customers:
        signals(args.signals_customers)


if __name__ == "__main__":
    main()
