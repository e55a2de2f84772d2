"""Throw-away PostgreSQL databases for the benches: create one per run, drop it at the end."""

from __future__ import annotations

import asyncpg

__all__ = ["BenchError", "create_database", "database_url", "drop_database"]


class BenchError(Exception):
    """A precondition is missing or a run failed: printed as one line, exit status 2."""


async def create_database(admin_dsn: str, name: str) -> None:
    try:
        conn = await asyncpg.connect(admin_dsn)
    except (OSError, asyncpg.PostgresError) as err:
        raise BenchError(f"PostgreSQL not reachable at {admin_dsn} ({type(err).__name__}): start it, or pass --pg") \
            from None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def database_url(admin_dsn: str, name: str) -> str:
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgres://")
    return f"{base}/{name}"
