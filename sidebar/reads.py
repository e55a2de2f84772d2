"""The card's reads as plain SQL: each one indexed lookup by customer id, no ORM query building.

The card is the guide's main screen and answers a dozen small reads per open; building each with
the ORM cost more CPU than the database spent answering it (bench/sidebar.py). Each statement
binds its values through one ``SqlParams`` (``params()``), numbered for the backend in use.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.sqldialect import Dialect, SqlParams, connection

__all__ = ["money", "params", "rows", "when"]


def params() -> SqlParams:
    """The parameters of one statement on the current connection's backend."""
    return SqlParams(Dialect.of(connection()))


async def rows(sql: str, bound: SqlParams) -> list[dict[str, Any]]:
    return list(await connection().execute_query_dict(sql, bound.values))


def when(value: Any) -> datetime | None:
    """A timestamp column from a raw row (asyncpg: a datetime; SQLite: ISO text)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def money(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))
