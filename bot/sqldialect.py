"""The few SQL differences between PostgreSQL and SQLite that rule types need."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient

__all__ = ["Dialect", "SqlParams", "connection", "ids_filter"]


def ids_filter(column: str, ids: Iterable[int] | None) -> str:
    """`` AND column IN (…)`` for our own integer ids (inlined, so parameters keep their numbers); "" for None."""
    if ids is None:
        return ""
    listed = ",".join(str(int(i)) for i in ids) or "NULL"
    return f" AND {column} IN ({listed})"


def connection() -> BaseDBAsyncClient:
    return Tortoise.get_connection("default")


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str  # "postgres" or "sqlite"

    @classmethod
    def of(cls, conn: BaseDBAsyncClient) -> Dialect:
        return cls("postgres" if conn.capabilities.dialect == "postgres" else "sqlite")

    def param(self, index: int) -> str:
        """Placeholder for the ``index``-th (1-based) parameter."""
        # SQLite takes numbered "?NNN" too, so a parameter may appear several times on both.
        return f"${index}" if self.name == "postgres" else f"?{index}"

    def days_between(self, later: str, earlier: str) -> str:
        """Days (a float) from the ``earlier`` to the ``later`` timestamp expression."""
        if self.name == "postgres":
            return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"
        return f"(julianday({later}) - julianday({earlier}))"

    def days_since(self, now_param: str, column: str) -> str:
        """Days from ``column`` to the ``now`` parameter."""
        return self.days_between(f"{now_param}::timestamptz" if self.name == "postgres" else now_param, column)

    def time(self, value: datetime) -> Any:
        """A datetime as this backend compares it with stored columns."""
        if self.name == "postgres":
            return value
        # Tortoise stores SQLite datetimes as ISO text in UTC: "YYYY-MM-DD HH:MM:SS+00:00".
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")

    def stored_time(self, value: datetime) -> Any:
        """A datetime as Tortoise writes it (raw INSERTs must match what the ORM reads back)."""
        if self.name == "postgres":
            return value
        return value.astimezone(UTC).isoformat(" ")

    def read_time(self, value: Any) -> datetime | None:
        """A timestamp column from a raw row: asyncpg gives datetimes, SQLite ISO text."""
        if value is None or isinstance(value, datetime):
            return value
        return datetime.fromisoformat(str(value))

    def json_param(self, param: str) -> str:
        """A JSON text parameter as the JSON column's type."""
        return f"{param}::jsonb" if self.name == "postgres" else param

    def number(self, column: str) -> str:
        """A DecimalField as a number (Tortoise keeps decimals as text on SQLite)."""
        return column if self.name == "postgres" else f"CAST({column} AS REAL)"

    def json_object(self, *pairs: tuple[str, str]) -> str:
        args = ", ".join(f"'{key}', {expr}" for key, expr in pairs)
        return f"json_build_object({args})::text" if self.name == "postgres" else f"json_object({args})"


class SqlParams:
    """Bound parameters of one statement, numbered for the backend (``$n`` / ``?n``)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        if isinstance(value, datetime):
            value = self.dialect.time(value.astimezone(UTC))  # SQLite compares UTC text
        self.values.append(value)
        return self.dialect.param(len(self.values))

    def in_list(self, values: list[str] | tuple[str, ...]) -> str:
        return "(" + ", ".join(self.add(v) for v in values) + ")"
