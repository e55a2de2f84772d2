"""The signal hot path in plain SQL: at 500 signals/s the ORM's query building was the largest cost
of a worker, so finding the customer, keeping the signal and reading the look-back window are three
parameterised statements (PostgreSQL and SQLite alike)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from bot.sqldialect import Dialect, SqlParams, connection
from leads.scoring import SignalFact
from leads.signals import SignalIn

__all__ = ["CustomerFacts", "find_customers", "insert_signals", "recent_signals"]

_PAYLOAD_FIELDS = {"price", "quantity", "order_id", "amount", "coupon_id", "expires_at", "duration_s",
                   "guide_userid", "store_code"}
_COLUMNS = ("event_id", "type", "customer_id", "external_userid", "unionid", "member_id", "product_id",
            "product_name", "category", "occurred_at", "payload", "source")
_PAYLOAD = _COLUMNS.index("payload")


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    id: int
    external_userid: str
    unionid: str | None
    first_seen_at: datetime
    last_purchase_at: datetime | None


async def find_customers(external_userids: Sequence[str], unionids: Sequence[str]) -> list[CustomerFacts]:
    if not external_userids and not unionids:
        return []
    conn = connection()
    dialect = Dialect.of(conn)
    params = SqlParams(dialect)
    ext = params.in_list(tuple(external_userids)) if external_userids else "(NULL)"
    union = params.in_list(tuple(unionids)) if unionids else "(NULL)"
    _, rows = await conn.execute_query(
        "SELECT id, external_userid, unionid, first_seen_at, last_purchase_at FROM customer "  # noqa: S608 - placeholders only
        f"WHERE external_userid IN {ext} OR unionid IN {union}",
        params.values,
    )
    return [
        CustomerFacts(int(r["id"]), r["external_userid"], r["unionid"], dialect.read_time(r["first_seen_at"]),  # type: ignore[arg-type]
                      dialect.read_time(r["last_purchase_at"]))
        for r in rows
    ]


async def insert_signals(rows: Sequence[tuple[SignalIn, int | None]], source: str) -> None:
    """Keep each signal once: a known (source, event_id) is left as it is."""
    if not rows:
        return
    conn = connection()
    dialect = Dialect.of(conn)
    params = SqlParams(dialect)
    values: list[str] = []
    for s, customer_id in rows:
        payload = s.model_dump(mode="json", include=_PAYLOAD_FIELDS, exclude_none=True)
        # occurred_at as the ORM stores it (SQLite: with microseconds), so what it reads back is equal.
        row = [s.event_id, s.type.value, customer_id, s.external_userid, s.unionid, s.member_id, s.product_id,
               s.product_name, s.category, dialect.stored_time(s.occurred_at), orjson.dumps(payload).decode(), source]
        marks = [params.add(value) for value in row]
        marks[_PAYLOAD] = dialect.json_param(marks[_PAYLOAD])
        values.append(f"({', '.join(marks)})")
    await conn.execute_query(
        f"INSERT INTO signal ({', '.join(_COLUMNS)}) VALUES {', '.join(values)} "  # noqa: S608 - placeholders only
        "ON CONFLICT (source, event_id) DO NOTHING",
        params.values,
    )


async def recent_signals(customer_id: int, since: datetime, until: datetime) -> list[SignalFact]:
    conn = connection()
    dialect = Dialect.of(conn)
    params = SqlParams(dialect)
    # ``until`` as stored (SQLite: with microseconds): a signal stored at exactly ``until`` is in.
    _, rows = await conn.execute_query(
        "SELECT event_id, type, occurred_at, product_id, product_name, category, payload FROM signal "  # noqa: S608
        f"WHERE customer_id = {params.add(customer_id)} AND occurred_at >= {params.add(since)} "
        f"AND occurred_at <= {params.add(dialect.stored_time(until))} ORDER BY occurred_at, id",
        params.values,
    )
    facts = []
    for r in rows:
        payload = r["payload"]
        facts.append(SignalFact(
            r["event_id"], r["type"], dialect.read_time(r["occurred_at"]),  # type: ignore[arg-type]
            r["product_id"], r["product_name"], r["category"],
            orjson.loads(payload) if isinstance(payload, str | bytes) else (payload or {}),
        ))
    return facts
