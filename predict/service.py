"""The nightly prediction run: load the brand's history, score everyone (in a child process), store the figures."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import orjson
import structlog
from tortoise.transactions import in_transaction

from bot.deps import Deps
from bot.sqldialect import Dialect, connection
from customers.models import Customer
from predict.history import History, date_of, day_of
from predict.models import CustomerPrediction, PredictionRun
from predict.scored import Scored, score_in_child
from predict.source import load_history

__all__ = ["RunResult", "latest_run", "nightly_in_child", "predict_everyone", "prediction_for", "run_nightly",
           "score_isolated", "store_scores"]

log = structlog.get_logger(__name__)
T = TypeVar("T")
_CHUNK = 5000
_COLUMNS = ("customer_id", "p_buy_30", "p_buy_90", "purchases_90", "spend_90", "p_alive", "p_alive_peak",
            "next_purchase_on", "rank_pct", "method", "why", "computed_at")


@dataclass(frozen=True, slots=True)
class RunResult:
    customers: int
    method: str
    seconds: float
    backtest: dict[str, Any]


async def predict_everyone(deps: Deps) -> RunResult:
    """The nightly run. On PostgreSQL all of it (read the orders, score, store) happens in a child process with its
    own connection: the worker never holds the brand's history, so its memory does not step up on the nights it
    takes the job (bench/RESULTS.md §17). SQLite is one file behind one process's lock: there the worker reads and
    stores, and only the scoring runs in the child."""
    tz_name, now = deps.settings.scrm_timezone, deps.clock.now()
    if deps.settings.database_url.startswith("sqlite"):
        result = await run_nightly(tz_name, now, score_isolated)
    else:
        result = await _in_child(nightly_in_child, deps.settings.database_url, tz_name, now)
    log.info("predictions_stored", customers=result.customers, method=result.method, seconds=round(result.seconds, 1))
    return result


async def run_nightly(tz_name: str, now: datetime, scorer: Callable[[History, int], Awaitable[Scored]]) -> RunResult:
    """Read the history, score it with ``scorer``, store every customer's figures and the run."""
    started = time.perf_counter()
    tz = ZoneInfo(tz_name)
    history, pks = await load_history(tz)
    scored = await scorer(history, day_of(now, tz))
    del history  # its arrays are not needed to store the figures
    await store_scores(scored, pks, now)
    seconds = time.perf_counter() - started
    await PredictionRun.create(computed_at=now, method=scored.method, customers=len(scored.rows),
                               backtest=scored.backtest, seconds=seconds,
                               mean_spend_90=float(scored.spend_90.mean()) if len(scored.rows) else 0.0)
    return RunResult(len(scored.rows), scored.method, seconds, scored.backtest)


def nightly_in_child(database_url: str, tz_name: str, now: datetime) -> RunResult:
    """The whole nightly run, in a spawned child: its own database connection, closed before it returns."""
    from bot.db import close_db, init_db

    async def score_here(history: History, today: int) -> Scored:
        return score_in_child(history, today)  # this process is the child already

    async def run() -> RunResult:
        await init_db(database_url, migrate=False)
        try:
            return await run_nightly(tz_name, now, score_here)
        finally:
            await close_db()

    return asyncio.run(run())


async def _in_child(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a ``spawn`` child process of its own, which exits when done."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, function, *args)
    finally:
        await asyncio.to_thread(pool.shutdown)


async def score_isolated(history: History, today: int) -> Scored:
    """Score in a child process of its own, which exits when done.

    The nightly run lives in a worker that also welcomes customers: in a thread it would hold the
    GIL for most of its minutes and leave the worker its numpy and LightGBM heap (GBs at a million
    customers) long after. A fresh ``spawn`` child costs a second or two of imports once a night. The worker
    imports predict/scored.py only, never the models (predict/scored.py says why).
    """
    return await _in_child(score_in_child, history, today)


async def latest_run() -> PredictionRun | None:
    return await PredictionRun.all().order_by("-id").first()


async def prediction_for(external_userid: str) -> CustomerPrediction | None:
    """None for an unknown customer and for one without a prediction (no purchase yet)."""
    found = await Customer.get_or_none(external_userid=external_userid)
    return await CustomerPrediction.get_or_none(customer_id=found.id) if found else None


def _number(value: float) -> float | None:
    return None if value != value else float(value)  # NaN → NULL


async def store_scores(scored: Scored, pks: list[int], now: datetime) -> None:
    """Replace every customer's prediction in one transaction, ``_CHUNK`` rows a statement (each chunk's values built
    just before it is sent: a million customers' rows at once would take about a GB)."""
    conn = connection()
    dialect = Dialect.of(conn)
    marks = [dialect.param(i + 1) for i in range(len(_COLUMNS))]
    marks[_COLUMNS.index("why")] = dialect.json_param(marks[_COLUMNS.index("why")])
    sql = f"INSERT INTO customer_prediction ({', '.join(_COLUMNS)}) VALUES ({', '.join(marks)})"
    stamp = dialect.stored_time(now)
    async with in_transaction() as tx:
        await tx.execute_query("DELETE FROM customer_prediction")
        for start in range(0, len(scored.rows), _CHUNK):
            await tx.execute_many(sql, _values(scored, pks, start, start + _CHUNK, stamp, dialect))


def _values(scored: Scored, pks: list[int], start: int, stop: int, stamp: Any, dialect: Dialect) -> list[list[Any]]:
    part = slice(start, stop)
    days = scored.next_in_days[part].tolist()
    next_on: list[Any] = [None if n != n else date_of(scored.today + int(n)) for n in days]
    if dialect.name == "sqlite":
        next_on = [None if day is None else day.isoformat() for day in next_on]
    columns = zip(
        scored.rows[part].tolist(), scored.p_buy_30[part].tolist(), scored.p_buy_90[part].tolist(),
        scored.purchases_90[part].tolist(), scored.spend_90[part].tolist(), scored.p_alive[part].tolist(),
        scored.p_alive_peak[part].tolist(), next_on, scored.rank_pct[part].tolist(), scored.why.rows(start, stop),
        strict=True,
    )
    return [
        [pks[row], p30, p90, count, spend, _number(alive), _number(peak), on, rank, scored.method,
         orjson.dumps(why).decode(), stamp]
        for row, p30, p90, count, spend, alive, peak, on, rank, why in columns
    ]
