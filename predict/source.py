"""The brand's history from the database: orders, shop signals, chat keywords and channel per customer.

Customers are keyed by ``external_userid``; orders not yet linked to a customer are left out (they
belong to no one a guide can contact).
"""

from __future__ import annotations

from array import array
from collections.abc import AsyncIterator
from datetime import tzinfo
from typing import Any

import numpy as np

from bot.sqldialect import Dialect, SqlParams, connection
from predict.history import Events, History, day_of

__all__ = ["load_history", "SIGNAL_KINDS", "INTENT_WORDS"]

# Shop signals the model may learn from (the leads intake's types), and chat as one more kind.
SIGNAL_KINDS = ("browse", "add_to_cart", "checkout_started", "coupon_claimed", "coupon_redeemed", "link_open")
# Words that, in a customer's own messages, say they are thinking of buying.
INTENT_WORDS = ("多少钱", "价格", "优惠", "有货", "库存", "尺码", "下单", "怎么买", "活动", "折扣", "到货", "包邮")


# Rows are read a page at a time (keyset on the primary key): a million customers' seven million orders as
# Python dicts at once would take several GB; a page of them, and the arrays they end in, a few hundred MB.
_PAGE = 100_000


async def _pages(conn: Any, select: str, where: str, values: list[Any], dialect: Dialect,
                 key: str = "id") -> AsyncIterator[list[dict[str, Any]]]:
    """``SELECT {select} … WHERE {where}`` in pages ordered by ``key`` (one column, the first selected as ``key``)."""
    last: Any = None
    while True:
        params = SqlParams(dialect)
        params.values = list(values)
        after = "" if last is None else f" AND {key} > {params.add(last)}"
        rows = await conn.execute_query_dict(
            f"SELECT {select} WHERE {where}{after} ORDER BY {key} LIMIT {_PAGE}", params.values)
        if not rows:
            return
        yield rows
        if len(rows) < _PAGE:
            return
        last = rows[-1]["key"]


async def load_history(tz: tzinfo) -> tuple[History, list[int]]:
    """The history, and each customer's database id in the order of ``History.ids``."""
    conn = connection()
    dialect = Dialect.of(conn)
    pks: list[int] = []
    ids: list[str] = []
    async for page in _pages(conn, "id AS key, external_userid FROM customer", "1 = 1", [], dialect):
        pks.extend(int(row["key"]) for row in page)
        ids.extend(str(row["external_userid"]) for row in page)
    index = {pk: i for i, pk in enumerate(pks)}
    amount = dialect.number("amount") if dialect.name == "sqlite" else "CAST(amount AS DOUBLE PRECISION)"
    zone = getattr(tz, "key", None)
    c, d, v = array("q"), array("q"), array("d")
    if dialect.name == "postgres" and isinstance(zone, str):
        # The day in the brand's time zone, by PostgreSQL's zone rules (the same IANA database as zoneinfo's).
        async for page in _pages(conn, f"id AS key, customer_id, (paid_at AT TIME ZONE $1)::date - DATE '1970-01-01' "
                                       f"AS day, {amount} AS amount FROM orders", "customer_id IS NOT NULL",
                                 [zone], dialect):
            for row in page:
                who = index.get(int(row["customer_id"]))
                if who is not None and row["day"] is not None:
                    c.append(who)
                    d.append(int(row["day"]))
                    v.append(float(row["amount"] or 0))
    else:
        async for page in _pages(conn, f"id AS key, customer_id, paid_at, {amount} AS amount FROM orders",
                                 "customer_id IS NOT NULL", [], dialect):
            for row in page:
                at = dialect.read_time(row["paid_at"])
                who = index.get(int(row["customer_id"]))
                if at is None or who is None:
                    continue
                c.append(who)
                d.append(day_of(at, tz))
                v.append(float(row["amount"] or 0))
    events = await _events(conn, dialect, index, tz)
    channel = await _channels(conn, dialect, index)
    customer, day, spent = (np.frombuffer(a, np.int64 if a.typecode == "q" else np.float64) for a in (c, d, v))
    return History.build(ids, customer, day, spent, channel=channel, events=events), pks


async def _events(conn: Any, dialect: Dialect, index: dict[int, int], tz: tzinfo) -> Events:
    kinds = (*SIGNAL_KINDS, "chat", "chat_intent")
    c, d, k = array("q"), array("q"), array("q")
    kind_params = SqlParams(dialect)
    where = f"customer_id IS NOT NULL AND type IN {kind_params.in_list(SIGNAL_KINDS)}"
    async for page in _pages(conn, "id AS key, customer_id, type, occurred_at FROM signal", where,
                             kind_params.values, dialect):
        for row in page:
            at = dialect.read_time(row["occurred_at"])
            who = index.get(int(row["customer_id"]))
            if at is not None and who is not None:
                c.append(who)
                d.append(day_of(at, tz))
                k.append(SIGNAL_KINDS.index(str(row["type"])))
    # The customer's own words, not the guide's replies.
    async for page in _pages(conn, "m.id AS key, m.customer_id, m.content, m.sent_at FROM chat_message m "
                                   "JOIN customer c ON c.id = m.customer_id", "m.from_id = c.external_userid", [],
                             dialect, key="m.id"):
        for row in page:
            at = dialect.read_time(row["sent_at"])
            who = index.get(int(row["customer_id"]))
            if at is None or who is None:
                continue
            day = day_of(at, tz)
            c.append(who)
            d.append(day)
            k.append(kinds.index("chat"))
            if any(word in str(row["content"]) for word in INTENT_WORDS):
                c.append(who)
                d.append(day)
                k.append(kinds.index("chat_intent"))
    ev_customer, ev_day, ev_kind = (np.frombuffer(a, np.int64).copy() for a in (c, d, k))
    return Events(ev_customer, ev_day, ev_kind, kinds)


async def _channels(conn: Any, dialect: Dialect, index: dict[int, int]) -> np.ndarray:
    """The channel a customer first came through, as a small integer (0 = none)."""
    states: dict[str, int] = {}
    channel = np.zeros(len(index), np.int64)
    last: tuple[Any, Any] | None = None
    while True:  # pages in (created_at, id) order; the last row's own values (a datetime, or SQLite's text) go back
        after, values = "", []
        if last is not None:
            after = f" AND (created_at, id) > ({dialect.param(1)}, {dialect.param(2)})"
            values = list(last)
        rows = await conn.execute_query_dict(
            f"SELECT id, customer_id, state, created_at FROM relationship WHERE state <> ''{after} "
            f"ORDER BY created_at, id LIMIT {_PAGE}", values)
        for row in rows:
            who = index.get(int(row["customer_id"]))
            if who is not None and channel[who] == 0:
                channel[who] = states.setdefault(str(row["state"]), len(states) + 1)
        if len(rows) < _PAGE:
            return channel
        last = (rows[-1]["created_at"], rows[-1]["id"])
