"""Every processed event, once: the audit trail and the last line of idempotency."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class EventLog(Model):
    id = fields.BigIntField(primary_key=True)
    # "<source>:<dedup key>": unique, so an event re-delivered after the Redis dedup TTL is still seen.
    key = fields.CharField(max_length=128, unique=True)
    source = fields.CharField(max_length=16)
    kind = fields.CharField(max_length=32)
    event = fields.CharField(max_length=64, default="")
    change = fields.CharField(max_length=64, default="")
    body: fields.Field[dict[str, Any]] = fields.JSONField()
    handlers: fields.Field[list[str]] = fields.JSONField(default=list)
    attempts = fields.IntField(default=1)
    received_at = fields.DatetimeField()
    processed_at = fields.DatetimeField()

    class Meta:
        table = "event_log"
        indexes = (("kind", "event", "change"),)
