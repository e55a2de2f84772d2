"""The boards' kinds: the metric registry and the built-in metrics. A metric is one registered
function returning one SQL ``SELECT k, v``; a feature's own metrics live in its ``report.py``
(``sop/report.py``), named in the ``metrics`` slot of boards/__init__.py.

A metric is computed over a period ``[start, end)`` for each guide (``k`` = guide.id) or each
store (``k`` = guide.store_id): the query joins ``guide g`` and groups by ``q.key``; ``q.start`` and
``q.end`` are the bound parameters (a metric binds more with ``q.add(value)``). The same SQL runs
on PostgreSQL and SQLite::

    @metric("new_customers", label="新增客户")
    def new_customers(q: MetricQuery) -> str:
        return f"SELECT {q.key} AS k, COUNT(*) AS v FROM relationship r JOIN guide g ON g.id = r.guide_id " \\
               f"WHERE r.created_at >= {q.start} AND r.created_at < {q.end} GROUP BY {q.key}"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.registry import Registry
from bot.sqldialect import Dialect, SqlParams, connection
from customers.lifecycle import DEFAULT as LIFECYCLE
from customers.lifecycle import in_use

__all__ = ["Metric", "MetricQuery", "METRICS", "metric", "compute", "Level"]

Level = Literal["guide", "store"]


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """What a metric's SQL is built from: the level's key column and the period's placeholders."""

    params: SqlParams
    level: Level
    start: str  # placeholder of the period's first instant
    end: str  # placeholder of the instant after it (exclusive)
    dormant_days: float = LIFECYCLE.dormant_days

    @property
    def dialect(self) -> Dialect:
        return self.params.dialect

    @property
    def key(self) -> str:
        return "g.id" if self.level == "guide" else "g.store_id"

    def add(self, value: object) -> str:
        """Bind one more value; its placeholder."""
        return self.params.add(value)


MetricSql = Callable[[MetricQuery], str]


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    label: str
    sql: MetricSql
    higher_is_better: bool = True
    percent: bool = False  # a rate in [0, 1], shown as a percentage


METRICS: Registry[Metric] = Registry("board metric")


def metric(
    name: str, *, label: str, higher_is_better: bool = True, percent: bool = False
) -> Callable[[MetricSql], MetricSql]:
    """Register a leaderboard metric: one function returning its SQL; a name is registered once."""

    def register(func: MetricSql) -> MetricSql:
        known = METRICS.get(name)
        if known is None or known.sql is not func:  # the same function again: a module imported twice
            METRICS.add(name, Metric(name, label, func, higher_is_better, percent))
        return func

    return register


async def compute(
    name: str, level: Level, start: datetime, end: datetime, *, dormant_days: float = LIFECYCLE.dormant_days
) -> dict[int, float]:
    """The metric's value per guide or store id over ``[start, end)``; absent ids count 0."""
    conn = connection()
    params = SqlParams(Dialect.of(conn))
    query = MetricQuery(params, level, params.add(start), params.add(end), dormant_days)
    _count, rows = await conn.execute_query(METRICS[name].sql(query), params.values)
    return {int(row["k"]): float(row["v"] or 0) for row in rows if row["k"] is not None}


def dormant_days_of(rules: object) -> float:
    """The 沉睡 threshold in use (customers/lifecycle.py: the lifecycle rule's in tag_rules.yaml)."""
    return in_use(rules).dormant_days


# --- the built-in metrics ------------------------------------------------------------------------

# Customers taken over from another guide (add_way 201) are not "added" by the taker.
_ADDED = "r.add_way <> 201"


@metric("new_customers", label="新增客户")
def new_customers(q: MetricQuery) -> str:
    """Relations added in the period (customers taken over in a hand-over, add_way 201, excluded)."""
    return (
        f"SELECT {q.key} AS k, COUNT(*) AS v FROM relationship r JOIN guide g ON g.id = r.guide_id "
        f"WHERE r.created_at >= {q.start} AND r.created_at < {q.end} AND {_ADDED} GROUP BY {q.key}"
    )


@metric("customers_lost", label="流失客户", higher_is_better=False)
def customers_lost(q: MetricQuery) -> str:
    """Customers who deleted the guide in the period (lower is better)."""
    return (
        f"SELECT {q.key} AS k, COUNT(*) AS v FROM relationship r JOIN guide g ON g.id = r.guide_id "
        f"WHERE r.deleted_by_customer_at >= {q.start} AND r.deleted_by_customer_at < {q.end} GROUP BY {q.key}"
    )


@metric("net_growth", label="净增客户")
def net_growth(q: MetricQuery) -> str:
    """Customers added less customers lost in the period."""
    return (
        f"SELECT {q.key} AS k, SUM(d.v) AS v FROM ("
        f"SELECT r.guide_id, 1 AS v FROM relationship r "
        f"WHERE r.created_at >= {q.start} AND r.created_at < {q.end} AND {_ADDED} "
        f"UNION ALL SELECT r.guide_id, -1 AS v FROM relationship r "
        f"WHERE r.deleted_by_customer_at >= {q.start} AND r.deleted_by_customer_at < {q.end}"
        f") d JOIN guide g ON g.id = d.guide_id GROUP BY {q.key}"
    )


@metric("dormant_woken", label="唤醒沉睡")
def dormant_woken(q: MetricQuery) -> str:
    """Customers whose order in the period came after a gap of at least the 沉睡 threshold,
    counted for each guide who had them as a contact when they ordered."""
    gap = q.dialect.days_between("o.paid_at", "p.paid_at")
    return (
        f"SELECT {q.key} AS k, COUNT(DISTINCT o.customer_id) AS v FROM orders o "
        f"JOIN relationship r ON r.customer_id = o.customer_id AND r.created_at <= o.paid_at "
        f"AND (r.deleted_by_customer_at IS NULL OR r.deleted_by_customer_at > o.paid_at) "
        f"AND (r.deleted_by_guide_at IS NULL OR r.deleted_by_guide_at > o.paid_at) "
        f"JOIN guide g ON g.id = r.guide_id "
        f"WHERE o.paid_at >= {q.start} AND o.paid_at < {q.end} "
        f"AND EXISTS (SELECT 1 FROM orders p WHERE p.customer_id = o.customer_id AND p.paid_at < o.paid_at) "
        f"AND NOT EXISTS (SELECT 1 FROM orders p WHERE p.customer_id = o.customer_id AND p.paid_at < o.paid_at "
        f"AND {gap} < {float(q.dormant_days)}) "
        f"GROUP BY {q.key}"
    )
