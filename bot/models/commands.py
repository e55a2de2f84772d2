"""The chat-command audit log (bot/commands.py): one row per command a member typed."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class CommandAudit(Model):
    """One row per chat command: who, what, and how it ended (ok, refused, unknown …)."""

    id = fields.BigIntField(primary_key=True)
    # The event's key: a re-delivered message finds its row and is not run twice.
    event_key = fields.CharField(max_length=128, unique=True)
    userid = fields.CharField(max_length=64, db_index=True)
    role = fields.CharField(max_length=16, default="")
    command = fields.CharField(max_length=32, default="")
    text = fields.CharField(max_length=256, default="")
    result = fields.CharField(max_length=16, default="pending")
    detail = fields.CharField(max_length=256, default="")
    # Kept so a retried event re-sends an answer that did not go out (send-once per part).
    reply = fields.TextField(default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "command_audit"
