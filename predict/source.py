"""The brand's history from the database: orders, shop signals, chat keywords and channel per customer.

Customers are keyed by ``external_userid``; orders not yet linked to a customer are left out (they
belong to no one a guide can contact).
"""

from __future__ import annotations

from datetime import tzinfo

import numpy as np

from bot.sqldialect import Dialect, SqlParams, connection
from predict.history import Events, History, day_of

__all__ = ["load_history", "SIGNAL_KINDS", "INTENT_WORDS"]

# Shop signals the model may learn from (the leads intake's types), and chat as one more kind.
SIGNAL_KINDS = ("browse", "add_to_cart", "checkout_started", "coupon_claimed", "coupon_redeemed", "link_open")
# Words that, in a customer's own messages, say they are thinking of buying.
INTENT_WORDS = ("多少钱", "价格", "优惠", "有货", "库存", "尺码", "下单", "怎么买", "活动", "折扣", "到货", "包邮")


async def load_history(tz: tzinfo) -> tuple[History, list[int]]:
    """The history, and each customer's database id in the order of ``History.ids``."""
    conn = connection()
    dialect = Dialect.of(conn)
    customers = await conn.execute_query_dict("SELECT id, external_userid FROM customer ORDER BY id")
    index = {int(row["id"]): i for i, row in enumerate(customers)}
    ids = [str(row["external_userid"]) for row in customers]
    amount = dialect.number("amount")
    orders = await conn.execute_query_dict(
        f"SELECT customer_id, paid_at, {amount} AS amount FROM orders WHERE customer_id IS NOT NULL"
    )
    c, d, v = [], [], []
    for row in orders:
        at = dialect.read_time(row["paid_at"])
        if at is None or int(row["customer_id"]) not in index:
            continue
        c.append(index[int(row["customer_id"])])
        d.append(day_of(at, tz))
        v.append(float(row["amount"] or 0))
    events = await _events(conn, dialect, index, tz)
    channel = await _channels(conn, index)
    return History.build(ids, c, d, v, channel=channel, events=events), list(index)


async def _events(conn: object, dialect: Dialect, index: dict[int, int], tz: tzinfo) -> Events:
    kinds = (*SIGNAL_KINDS, "chat", "chat_intent")
    params = SqlParams(dialect)
    rows = await conn.execute_query_dict(  # type: ignore[attr-defined]
        "SELECT customer_id, type, occurred_at FROM signal WHERE customer_id IS NOT NULL "
        f"AND type IN {params.in_list(SIGNAL_KINDS)}",
        params.values,
    )
    c, d, k = [], [], []
    for row in rows:
        at = dialect.read_time(row["occurred_at"])
        if at is not None and int(row["customer_id"]) in index:
            c.append(index[int(row["customer_id"])])
            d.append(day_of(at, tz))
            k.append(SIGNAL_KINDS.index(str(row["type"])))
    chats = await conn.execute_query_dict(  # type: ignore[attr-defined]
        # The customer's own words, not the guide's replies.
        "SELECT m.customer_id, m.content, m.sent_at FROM chat_message m JOIN customer c ON c.id = m.customer_id "
        "WHERE m.from_id = c.external_userid"
    )
    for row in chats:
        at = dialect.read_time(row["sent_at"])
        if at is None or int(row["customer_id"]) not in index:
            continue
        who, day = index[int(row["customer_id"])], day_of(at, tz)
        c.append(who)
        d.append(day)
        k.append(kinds.index("chat"))
        if any(word in str(row["content"]) for word in INTENT_WORDS):
            c.append(who)
            d.append(day)
            k.append(kinds.index("chat_intent"))
    return Events(np.asarray(c, np.int64), np.asarray(d, np.int64), np.asarray(k, np.int64), kinds)


async def _channels(conn: object, index: dict[int, int]) -> np.ndarray:
    """The channel a customer first came through, as a small integer (0 = none)."""
    rows = await conn.execute_query_dict(  # type: ignore[attr-defined]
        "SELECT customer_id, state, created_at FROM relationship WHERE state <> '' ORDER BY created_at"
    )
    states: dict[str, int] = {}
    channel = np.zeros(len(index), np.int64)
    for row in rows:
        who = index.get(int(row["customer_id"]))
        if who is not None and channel[who] == 0:
            channel[who] = states.setdefault(str(row["state"]), len(states) + 1)
    return channel
