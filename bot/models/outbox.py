"""The send-once outbox's rows (bot/outbox.py): one per message that must go out at most once."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Outbox(Model):
    """One row per message the product sends on an event: the key makes it send-once."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=160, unique=True)
    kind = fields.CharField(max_length=32)
    recipient = fields.CharField(max_length=64)
    status = fields.CharField(max_length=16, default="pending")  # pending / sending / sent / failed
    error = fields.CharField(max_length=256, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    # Set by the worker that is sending right now: a second worker on the same key waits its turn.
    claimed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"
