"""Telling a storage outage (PostgreSQL or Redis unreachable) from an error in the work itself.

The worker waits an outage out with the event still in hand, spending none of its attempts: a
database restart must not push an add towards the dead letters. Only errors that say the
connection is gone count; a query or data error, and anything from the WeCom client (whose
transport errors may wrap the same OS errors), is the event's own failure.
"""

from __future__ import annotations

import aiohttp
import asyncpg  # type: ignore[import-untyped]
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tortoise.exceptions import DBConnectionError

from bot.wecom.errors import WeComError

__all__ = ["storage_outage"]

_OUTAGE = (
    RedisConnectionError,  # also BusyLoadingError: Redis is replaying its AOF after a restart
    RedisTimeoutError,
    DBConnectionError,
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExistError: the server went away mid-query
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,  # a fast or immediate shutdown ended the session
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    ConnectionError,  # refused / reset / broken pipe while connecting to either
)
_NOT_OURS = (WeComError, aiohttp.ClientError)


def storage_outage(err: BaseException) -> bool:
    """True when ``err``, or an error it was raised from, says PostgreSQL or Redis cannot be reached."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, _NOT_OURS):
            return False
        if isinstance(current, _OUTAGE):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
