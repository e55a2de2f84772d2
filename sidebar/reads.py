"""The card's reads as plain SQL: each one indexed lookup by customer id, no ORM query building.

The card is the guide's main screen and answers a dozen small reads per open; building each with
the ORM cost more CPU than the database spent answering it (bench/sidebar.py). Statements are
written with ``$n`` placeholders (PostgreSQL) and numbered ``?n`` on SQLite.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.sqldialect import Dialect, connection

__all__ = ["in_list", "money", "rows", "when"]

_PARAM = re.compile(r"\$(\d+)")


async def rows(sql: str, *values: Any) -> list[dict[str, Any]]:
    conn = connection()
    dialect = Dialect.of(conn)
    if dialect.name != "postgres":
        sql = _PARAM.sub(r"?\1", sql)
        values = tuple(dialect.time(v) if isinstance(v, datetime) else v for v in values)
    return list(await conn.execute_query_dict(sql, list(values)))


def when(value: Any) -> datetime | None:
    """A timestamp column from a raw row (asyncpg: a datetime; SQLite: ISO text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def money(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def in_list(values: Sequence[Any], first: int) -> str:
    """``$first, $first+1, …`` for an IN list (at least one placeholder)."""
    return ", ".join(f"${first + i}" for i in range(max(1, len(values))))
