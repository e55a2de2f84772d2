"""The SOP engine: due steps found set-based in SQL, one ``sop_task`` per (playbook, step, customer,
occurrence) — the unique key makes every sweep idempotent, however often and wherever it runs.

A sweep covers the due moments in (since, until]. A step with a time of day (``at``) is due on a
local day at that time, so it is looked at only by the sweep whose window holds that moment (an
idle minute looks at none); a step without ``at`` is due ``day`` days after its event, and its
window is widened by ``overlap`` so rows committed late (a long re-tag) are not missed.

A step whose action is not a task per customer (``StepKind.per_customer`` False: a moment) gets one
``sop_occurrence`` per due day its trigger falls on, unique on (playbook, step, occurrence), the same way.
"""

from __future__ import annotations

import time as clock_time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient

from bot.sqldialect import Dialect, SqlParams, connection, ids_filter
from bot.templates import Templates
from sop.config import Audience, Playbook, PlaybookSet, Step
from sop.kinds import ACTIONS, GOALS, OccasionTrigger, Window
from sop.kinds.triggers import day_bounds

__all__ = ["SweepResult", "sweep", "holdout_bucket", "in_holdout", "close_by_goals", "fill_suggestions"]

log = structlog.get_logger(__name__)
_HASH_MULTIPLIER = 2654435761  # Knuth's multiplicative hash: stable, and the same in SQL and Python
_TINY = timedelta(microseconds=1)


def holdout_bucket(playbook_id: str, customer_id: int) -> int:
    """0..99, stable for (playbook, customer): below the playbook's holdout % means control."""
    return ((customer_id * _HASH_MULTIPLIER + zlib.crc32(playbook_id.encode())) % 4294967296) % 100


def in_holdout(playbook: Playbook, customer_id: int) -> bool:
    return holdout_bucket(playbook.id, customer_id) < playbook.holdout_pct


@dataclass(slots=True)
class SweepResult:
    created: int = 0  # task rows, holdout (control) exposures included
    occurrences: int = 0  # occurrences of steps for everyone at once (a moment), sop_occurrence rows
    closed_by_goal: int = 0
    statements: int = 0
    seconds: float = 0.0
    by_playbook: dict[str, int] = field(default_factory=dict)


def _typed(sql: SqlParams, value: object, pg_type: str) -> str:
    placeholder = sql.add(value)
    return f"CAST({placeholder} AS {pg_type})" if sql.dialect.name == "postgres" else placeholder


def add_days(dialect: Dialect, column: str, days: int) -> str:
    if dialect.name == "postgres":
        return f"({column} + INTERVAL '{int(days)} days')"
    return f"strftime('%Y-%m-%d %H:%M:%S+00:00', {column}, '{int(days):+d} days')"


def _audience_sql(audience: Audience, sql: SqlParams) -> str:
    parts: list[str] = []
    has_tag = (
        "EXISTS (SELECT 1 FROM customer_tag ct JOIN tag tg ON tg.id = ct.tag_id "
        "WHERE ct.customer_id = a.customer_id AND ct.removed = FALSE AND tg.name IN {names})"
    )
    for names in (audience.tags, audience.lifecycle, audience.rfm):
        if names:
            parts.append(has_tag.format(names=sql.in_list(names)))
    if audience.exclude_tags:
        parts.append("NOT " + has_tag.format(names=sql.in_list(audience.exclude_tags)))
    if audience.stores:
        parts.append(f"g.store_id IN (SELECT s.id FROM store s WHERE s.code IN {sql.in_list(audience.stores)})")
    return "".join(f" AND {p}" for p in parts)


def _local_days(since: datetime, until: datetime, tz: str) -> Iterator[date]:
    zone = ZoneInfo(tz)
    day, last = since.astimezone(zone).date(), until.astimezone(zone).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def _due_moments(step: Step, since: datetime, until: datetime, tz: str) -> Iterator[tuple[date, datetime]]:
    """(local due day, due instant) of a timed step inside (since, until]."""
    assert step.at is not None
    zone = ZoneInfo(tz)
    for day in _local_days(since, until, tz):
        due = datetime.combine(day, step.at, zone)
        if since < due <= until:
            yield day, due


def _insert_sql(
    playbook: Playbook,
    step: Step,
    anchors: str,
    sql: SqlParams,
    due: str,
    now: datetime,
    customer_ids: Iterable[int] | None,
) -> str:
    salt = zlib.crc32(playbook.id.encode())
    bucket = f"(((a.customer_id * {_HASH_MULTIPLIER} + {salt}) % 4294967296) % 100)"
    status = f"CASE WHEN {bucket} < {float(playbook.holdout_pct)} THEN 'control' ELSE 'open' END"
    # Within a priority, the customer's expected 90-day spend (predict/); past spend before the first prediction.
    expected = "(SELECT p.spend_90 FROM customer_prediction p WHERE p.customer_id = c.id)"
    value = f"({int(playbook.priority)} * 100000 + COALESCE({expected}, {sql.dialect.number('c.total_spent')}))"
    active = "r2.deleted_by_customer_at IS NULL AND r2.deleted_by_guide_at IS NULL AND r2.half = FALSE"
    return (
        "INSERT INTO sop_task (playbook, step, customer_id, guide_id, occurrence, due_at, status, action, goal, "
        "reason, detail, value, suggested_text, done_by, created_at) "
        f"SELECT {sql.add(playbook.id)}, {sql.add(step.id)}, a.customer_id, g.id, a.occurrence, {due}, {status}, "
        f"{sql.add(step.action)}, {sql.add(playbook.goal)}, {sql.add(step.reason[:128])}, "
        f"COALESCE(a.detail, ''), {value}, '', '', {_typed(sql, now, 'TIMESTAMPTZ')} "
        f"FROM ({anchors}) a JOIN customer c ON c.id = a.customer_id "
        "JOIN relationship r ON r.id = (SELECT r2.id FROM relationship r2 WHERE r2.customer_id = a.customer_id "
        f"AND {active} AND (a.guide_id IS NULL OR r2.guide_id = a.guide_id) ORDER BY r2.created_at DESC LIMIT 1) "
        "JOIN guide g ON g.id = r.guide_id AND g.active = TRUE "
        f"WHERE 1 = 1{_audience_sql(playbook.audience, sql)}{ids_filter('a.customer_id', customer_ids)} "
        "ON CONFLICT (playbook, step, customer_id, occurrence) DO NOTHING"
    )


def _statements(
    playbook: Playbook,
    step: Step,
    dialect: Dialect,
    since: datetime,
    until: datetime,
    overlap: timedelta,
    tz: str,
    customer_ids: Iterable[int] | None,
) -> Iterator[tuple[str, list[object]]]:
    kind = playbook.trigger
    if not ACTIONS[step.action].per_customer:
        if customer_ids is None:  # a customer's re-sweep has nothing to do with a step for everyone
            yield from _occurrence_statements(playbook, step, dialect, since, until, tz)
        return
    if step.at is None:  # an event step: due `day` days after the event, found by the event's time
        sql = SqlParams(dialect)
        shift = timedelta(days=step.day)
        window = Window(since - overlap - shift, until - shift, until.date(), tz)
        anchors = kind.anchors(playbook.trigger_params, window, sql)
        if anchors:
            due = add_days(dialect, "a.anchor_at", step.day)
            yield _insert_sql(playbook, step, anchors, sql, due, until, customer_ids), sql.values
        return
    for day, due_at in _due_moments(step, since, until, tz):
        sql = SqlParams(dialect)
        anchor_day = day - timedelta(days=step.day)
        start, end = day_bounds(anchor_day, tz)
        window = Window(start - _TINY, end - _TINY, anchor_day, tz)
        anchors = kind.anchors(playbook.trigger_params, window, sql)
        if anchors:
            due = _typed(sql, due_at, "TIMESTAMPTZ")
            yield _insert_sql(playbook, step, anchors, sql, due, until, customer_ids), sql.values


def _occurrence_statements(
    playbook: Playbook, step: Step, dialect: Dialect, since: datetime, until: datetime, tz: str
) -> Iterator[tuple[str, list[object]]]:
    """One ``sop_occurrence`` per due moment of the step whose anchor day the trigger falls on (config checks
    that such a step has a dated trigger with ``occasion``: calendar, weekly)."""
    kind = playbook.trigger
    assert isinstance(kind, OccasionTrigger) and step.at is not None
    for day, due_at in _due_moments(step, since, until, tz):
        anchor_day = day - timedelta(days=step.day)
        detail = kind.occasion(playbook.trigger_params, anchor_day)
        if detail is None:
            continue
        sql = SqlParams(dialect)
        values = (
            f"{sql.add(playbook.id)}, {sql.add(step.id)}, {sql.add(step.action)}, "
            f"{sql.add(anchor_day.isoformat())}, {sql.add(detail[:64])}, {_typed(sql, due_at, 'TIMESTAMPTZ')}, "
            f"{_typed(sql, until, 'TIMESTAMPTZ')}, ''"
        )
        yield (
            "INSERT INTO sop_occurrence (playbook, step, action, occurrence, detail, due_at, created_at, error) "
            f"VALUES ({values}) ON CONFLICT (playbook, step, occurrence) DO NOTHING",
            sql.values,
        )


async def _insert(conn: BaseDBAsyncClient, dialect: Dialect, statement: str, values: list[object]) -> int:
    """Run an INSERT; the rows it inserted (Tortoise reads asyncpg's "INSERT 0 n" as the oid)."""
    if dialect.name == "postgres":
        rows = await conn.execute_query_dict(f"WITH ins AS ({statement} RETURNING 1) SELECT COUNT(*) AS n FROM ins",
                                             values)
        return int(rows[0]["n"])
    inserted, _ = await conn.execute_query(statement, values)
    return int(inserted or 0)


async def sweep(
    playbooks: PlaybookSet,
    *,
    since: datetime,
    until: datetime,
    tz: str,
    overlap: timedelta = timedelta(0),
    paused: frozenset[str] = frozenset(),
    customer_ids: Iterable[int] | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> SweepResult:
    """Create the tasks of every step due in (since, until]; return what was created."""
    conn = conn or connection()
    dialect = Dialect.of(conn)
    ids = list(customer_ids) if customer_ids is not None else None
    result = SweepResult()
    started = clock_time.perf_counter()
    for playbook in playbooks.playbooks:
        if playbook.id in paused:
            continue
        for step in playbook.steps:
            per_customer = ACTIONS[step.action].per_customer
            for statement, values in _statements(playbook, step, dialect, since, until, overlap, tz, ids):
                inserted = await _insert(conn, dialect, statement, values)
                result.statements += 1
                if not per_customer:
                    result.occurrences += inserted
                    continue
                result.created += inserted
                result.by_playbook[playbook.id] = result.by_playbook.get(playbook.id, 0) + inserted
    result.seconds = clock_time.perf_counter() - started
    if result.created or result.occurrences:
        log.info(
            "sop_sweep",
            created=result.created,
            occurrences=result.occurrences,
            statements=result.statements,
            seconds=round(result.seconds, 3),
            scoped=ids is not None,
        )
    return result


async def close_by_goals(
    playbooks: PlaybookSet,
    *,
    since: datetime,
    now: datetime,
    customer_ids: Iterable[int] | None = None,
    conn: BaseDBAsyncClient | None = None,
) -> int:
    """Close open tasks whose playbook goal is now seen (an order after the task, …)."""
    conn = conn or connection()
    ids = list(customer_ids) if customer_ids is not None else None
    closed = 0
    for name in sorted({p.goal for p in playbooks.playbooks if p.goal}):
        sql = SqlParams(Dialect.of(conn))
        condition = GOALS[name](sql, since)
        when = _typed(sql, now, "TIMESTAMPTZ")
        count, _ = await conn.execute_query(
            f"UPDATE sop_task SET status = 'done', done_by = 'goal', done_at = {when} "
            f"WHERE status = 'open' AND goal = {sql.add(name)} AND id IN (SELECT t.id FROM sop_task t "
            f"WHERE t.status = 'open' AND t.goal = {sql.add(name)} AND {condition}{ids_filter('t.customer_id', ids)})",
            sql.values,
        )
        closed += int(count or 0)
    if closed:
        log.info("sop_closed_by_goal", closed=closed)
    return closed


async def fill_suggestions(
    playbooks: PlaybookSet, templates: Templates, *, batch: int = 2000, conn: BaseDBAsyncClient | None = None
) -> int:
    """Render each new open task's suggested text for its customer (names, product, holiday, coupon)."""
    conn = conn or connection()
    dialect = Dialect.of(conn)
    filled = 0
    while True:
        rows = await conn.execute_query_dict(
            "SELECT t.id, t.playbook, t.step, t.detail, c.name AS customer_name, g.name AS guide_name, "
            "s.name AS store_name FROM sop_task t JOIN customer c ON c.id = t.customer_id "
            "JOIN guide g ON g.id = t.guide_id LEFT JOIN store s ON s.id = g.store_id "
            f"WHERE t.suggested_text = '' AND t.status = 'open' ORDER BY t.id LIMIT {int(batch)}"
        )
        if not rows:
            return filled
        updates: list[list[object]] = []
        for row in rows:
            playbook = playbooks.get(str(row["playbook"]))
            step = next((s for s in playbook.steps if s.id == row["step"]), None) if playbook else None
            text = "-"  # the playbook or step was removed since: nothing to suggest, but never again
            if step is not None:
                text = (
                    templates.render(
                        step.template,
                        customer_name=row["customer_name"] or templates.render("sop_customer_you"),
                        guide_name=row["guide_name"] or "",
                        store_name=row["store_name"] or "",
                        product_name=row["detail"] or "",
                        holiday=row["detail"] or "",
                        coupon=step.coupon,
                    )
                    or "-"
                )
            updates.append([text, int(row["id"])])
        await conn.execute_many(
            f"UPDATE sop_task SET suggested_text = {dialect.param(1)} WHERE id = {dialect.param(2)}", updates
        )
        filled += len(updates)
