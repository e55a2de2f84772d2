"""The processed-event log the worker consults before and writes after dispatching."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from bot.clock import Clock
from bot.events import Event
from bot.models.eventlog import EventLog


def _log_key(event: Event) -> str:
    return f"{event.source}:{event.key}"


class ProcessedLog:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def seen(self, event: Event) -> bool:
        return await EventLog.filter(key=_log_key(event)).exists()

    async def record(self, event: Event, handlers: set[str]) -> None:
        kind, name, change = event.route
        # Another worker may finish the same event first (a reclaim race): its row stands.
        with contextlib.suppress(IntegrityError):
            await EventLog.create(
                key=_log_key(event),
                source=event.source,
                kind=kind[:32],
                event=name[:64],
                change=change[:64],
                body=dict(event.body),
                handlers=sorted(handlers | set(event.done)),
                attempts=event.attempt,
                received_at=datetime.fromtimestamp(event.received_at, UTC),
                processed_at=self.clock.now(),
            )
