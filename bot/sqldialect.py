"""The few SQL differences between PostgreSQL and SQLite that rule types need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient

__all__ = ["Dialect", "connection"]


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

    def days_since(self, now_param: str, column: str) -> str:
        """Whole days from ``column`` to the ``now`` parameter (a float)."""
        if self.name == "postgres":
            return f"(EXTRACT(EPOCH FROM ({now_param}::timestamptz - {column})) / 86400.0)"
        return f"(julianday({now_param}) - julianday({column}))"

    def time(self, value: datetime) -> Any:
        """A datetime as this backend compares it with stored columns."""
        if self.name == "postgres":
            return value
        # Tortoise stores SQLite datetimes as ISO text in UTC: "YYYY-MM-DD HH:MM:SS+00:00".
        return value.strftime("%Y-%m-%d %H:%M:%S+00:00")

    def number(self, column: str) -> str:
        """A DecimalField as a number (Tortoise keeps decimals as text on SQLite)."""
        return column if self.name == "postgres" else f"CAST({column} AS REAL)"

    def json_object(self, *pairs: tuple[str, str]) -> str:
        args = ", ".join(f"'{key}', {expr}" for key, expr in pairs)
        return f"json_build_object({args})::text" if self.name == "postgres" else f"json_object({args})"
