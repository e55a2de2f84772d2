"""Database setup: Tortoise config from ``DATABASE_URL``, init/close, and migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tortoise import Tortoise

from bot.feature import model_modules as feature_models

__all__ = ["model_modules", "tortoise_config", "init_db", "close_db", "migrate"]

# The engine's own; each feature's follow (its ``models`` slot, bot/feature.py).
ENGINE_MODELS = ("bot.models.commands", "bot.models.eventlog", "bot.models.outbox")


def model_modules() -> list[str]:
    return [*ENGINE_MODELS, *feature_models()]


# Tortoise's asyncpg pool holds 5 connections by default: fewer than the worker's concurrency.
DEFAULT_PG_POOL = 20


def with_pool_size(database_url: str, size: int = DEFAULT_PG_POOL) -> str:
    """A PostgreSQL URL with ``maxsize`` set unless the URL sets it itself."""
    if not database_url.startswith(("postgres://", "postgresql://", "asyncpg://")) or "maxsize=" in database_url:
        return database_url
    return f"{database_url}{'&' if '?' in database_url else '?'}maxsize={size}"


def tortoise_config(database_url: str, timezone: str = "Asia/Shanghai") -> dict[str, Any]:
    database_url = with_pool_size(database_url)
    if database_url.startswith("sqlite://") and not database_url.startswith("sqlite://:memory:"):
        Path(database_url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)
    return {
        "connections": {"default": database_url},
        "apps": {
            "scrm": {
                "models": model_modules(),
                "default_connection": "default",
                "migrations": "bot.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(database_url: str, *, migrate: bool = True) -> None:
    """Connect; with ``migrate`` first bring the schema up to date (the default for a single node)."""
    config = tortoise_config(database_url)
    if migrate:
        from tortoise.migrations.api import migrate as run_migrations

        await run_migrations(config=config)
        await Tortoise.close_connections()
    await Tortoise.init(config=config)


async def close_db() -> None:
    await Tortoise.close_connections()


async def migrate(database_url: str) -> None:
    """Bring the schema up to date (``scrm migrate``)."""
    await init_db(database_url, migrate=True)
    await close_db()
