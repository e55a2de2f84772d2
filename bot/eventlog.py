"""The processed-event log the worker consults before and writes after dispatching.

Both are on every event's path (twice per new contact: the add and its record), so each is one
plain statement: the ORM's query building cost more CPU than the round trip.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from bot.clock import Clock
from bot.events import Event
from bot.sqldialect import Dialect, connection


def _log_key(event: Event) -> str:
    return f"{event.source}:{event.key}"


class ProcessedLog:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def seen(self, event: Event) -> bool:
        conn = connection()
        p = Dialect.of(conn).param
        rows = await conn.execute_query_dict(f'SELECT 1 FROM "event_log" WHERE "key" = {p(1)} LIMIT 1',  # noqa: S608
                                             [_log_key(event)])
        return bool(rows)

    async def record(self, event: Event, handlers: set[str]) -> None:
        kind, name, change = event.route
        conn = connection()
        dialect = Dialect.of(conn)
        p = dialect.param
        # Another worker may finish the same event first (a reclaim race): its row stands.
        sql = (
            'INSERT INTO "event_log" ("key", "source", "kind", "event", "change", "body", "handlers", "attempts", '  # noqa: S608
            f'"received_at", "processed_at") VALUES ({p(1)}, {p(2)}, {p(3)}, {p(4)}, {p(5)}, '
            f"{dialect.json_param(p(6))}, {dialect.json_param(p(7))}, {p(8)}, {p(9)}, {p(10)}) "
            'ON CONFLICT ("key") DO NOTHING'
        )
        await conn.execute_query(sql, [
            _log_key(event), event.source, kind[:32], name[:64], change[:64],
            orjson.dumps(dict(event.body)).decode(), orjson.dumps(sorted(handlers | set(event.done))).decode(),
            event.attempt, dialect.stored_time(datetime.fromtimestamp(event.received_at, UTC)),
            dialect.stored_time(self.clock.now()),
        ])
