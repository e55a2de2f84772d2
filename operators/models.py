"""Operators' records: leaderboard robot subscriptions, hand-overs."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class RobotSubscription(Model):
    """A group robot (named in ``SCRM_ROBOT_KEYS``) that receives the scheduled leaderboards."""

    id = fields.IntField(primary_key=True)
    robot = fields.CharField(max_length=64, unique=True)
    created_by = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "robot_subscription"


class Handover(Model):
    """One ``交接``: a guide's customers moved to another guide through WeCom's transfer APIs."""

    id = fields.IntField(primary_key=True)
    handover_userid = fields.CharField(max_length=64)
    takeover_userid = fields.CharField(max_length=64)
    resigned = fields.BooleanField(default=False)
    requested_by = fields.CharField(max_length=64, default="")
    status = fields.CharField(max_length=16, default="open", db_index=True)  # open / done
    created_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "handover"


class HandoverItem(Model):
    """One customer of a hand-over and where its transfer stands: waiting, moved or failed."""

    id = fields.BigIntField(primary_key=True)
    handover: fields.ForeignKeyRelation[Handover] = fields.ForeignKeyField("scrm.Handover", related_name="items")
    handover_id: int  # the column Tortoise adds for the key above
    external_userid = fields.CharField(max_length=64)
    status = fields.CharField(max_length=16, default="waiting")
    reason = fields.CharField(max_length=64, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "handover_item"
        unique_together = (("handover", "external_userid"),)
        indexes = (("external_userid", "status"),)
