"""Retention: what the engine keeps grows with every event, so it is trimmed by age.

A year of callbacks must not fill the disk. Trimmed, each by its own setting:
- ``event_log`` rows (the processed-event record) older than ``SCRM_EVENT_LOG_RETENTION_DAYS``: a
  callback older than the de-duplication window is refused at ingest anyway, so its row only
  answers "was this processed?" for an operator.
- ``outbox`` rows sent or failed longer than ``SCRM_OUTBOX_RETENTION_DAYS`` ago: their keys name one
  event, one day or one card (bot/outbox.py), which never comes again once that long has passed.
  Pending and claimed rows are never trimmed.
- ``command_audit`` rows older than ``SCRM_COMMAND_AUDIT_RETENTION_DAYS``.
The event stream needs no trimming: an entry is deleted when it is acknowledged (bot/queue.py);
the dead letters are bounded by ``SCRM_DEAD_LETTER_MAXLEN`` and trimmed by age here too.

One process trims at a time (a lease), every ``SCRM_RETENTION_EVERY_S``, in batches so a long
backlog never holds a lock on a hot table for long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from bot.lease import lease
from bot.models.commands import CommandAudit
from bot.models.eventlog import EventLog
from bot.models.outbox import Outbox
from bot.outbox import FAILED, SENT

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["Trimmed", "trim"]

log = structlog.get_logger(__name__)

_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class Trimmed:
    event_log: int
    outbox: int
    command_audit: int
    dead_letters: int


async def trim(deps: Deps) -> Trimmed | None:
    """Delete what is past its retention; None when another process is already trimming."""
    settings = deps.settings
    async with lease(deps.redis, f"{settings.scrm_redis_prefix}:retention", ttl_s=600) as held:
        if not held:
            return None
        now = deps.clock.now()
        event_log = await _delete_in_batches(
            EventLog, "processed_at", now - timedelta(days=settings.scrm_event_log_retention_days))
        outbox = await _delete_in_batches(
            Outbox, "created_at", now - timedelta(days=settings.scrm_outbox_retention_days), status__in=(SENT, FAILED))
        audit = await _delete_in_batches(
            CommandAudit, "created_at", now - timedelta(days=settings.scrm_command_audit_retention_days))
        dead = await deps.queue.trim_dead_letters(
            older_than_s=deps.clock.timestamp() - settings.scrm_dead_letter_retention_days * 86400)
        trimmed = Trimmed(event_log, outbox, audit, dead)
        log.info("retention_trimmed", event_log=event_log, outbox=outbox, command_audit=audit, dead_letters=dead)
        return trimmed


async def _delete_in_batches(model: type[EventLog | Outbox | CommandAudit], column: str, before: object,
                             **conditions: object) -> int:
    deleted = 0
    while True:
        ids = await model.filter(**{f"{column}__lt": before}, **conditions).limit(_BATCH).values_list("id", flat=True)
        if not ids:
            return deleted
        deleted += await model.filter(id__in=list(ids)).delete()
        if len(ids) < _BATCH:
            return deleted
