"""Campaign tables: the campaign, one row per customer it reached for (targets), one row per WeCom task
(``msgid``), and moments. Unique constraints keep a re-run from planning or sending anything twice."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from customers.models import Customer, Guide


class Arm(StrEnum):
    TREATED = "treated"  # pushed through a guide
    HOLDOUT = "holdout"  # kept out for the lift
    CAPPED = "capped"  # at the per-customer frequency cap: not targeted


class TargetStatus(StrEnum):
    PLANNED = "planned"  # in a task the guide has not confirmed yet (or not planned: holdout / capped)
    SENT = "sent"  # WeCom result 1
    UNSENT = "unsent"  # the task ended (cancelled, expired) without reaching them: result 0
    NOT_FRIEND = "not_friend"  # result 2, or in the task's fail_list
    OVER_LIMIT = "over_limit"  # result 3: they had received their share of mass messages


class TaskState(StrEnum):
    OPEN = "open"  # created; the guide has not sent
    SENT = "sent"  # the guide sent; results synced
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # never sent within the sync window


class Campaign(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    source = fields.CharField(max_length=16, default="cli")  # cli / chat / schedule / sop
    text = fields.TextField(default="")
    attachments: fields.Field[list[dict[str, Any]]] = fields.JSONField(default=list)
    audience: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)
    holdout_pct = fields.FloatField(default=10.0)
    window_days = fields.IntField(default=14)  # conversions: an order within this many days of the send
    # An SOP mass step this campaign carries (its delivered customers are the step's delivered tasks).
    playbook = fields.CharField(max_length=64, default="")
    step = fields.CharField(max_length=64, default="")
    created_by = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)
    cancelled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "campaign"
        indexes = (("playbook", "step"),)


class CampaignTarget(Model):
    """One customer of a campaign: the arm they are in, the guide who pushes, and what WeCom said."""

    id = fields.BigIntField(primary_key=True)
    # No database constraints on these keys: a campaign's targets are written by one INSERT … SELECT from the
    # customer and guide tables themselves, and a constraint would cost three lookups per row (a million rows:
    # more than the insert itself). The migration engine creates them whatever db_constraint says: 0015 drops them.
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "scrm.Campaign", related_name="targets", db_constraint=False)
    campaign_id: int
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "scrm.Customer", related_name="campaign_targets", db_constraint=False
    )
    customer_id: int
    guide: fields.ForeignKeyNullableRelation[Guide] = fields.ForeignKeyField(
        "scrm.Guide", related_name="campaign_targets", null=True, on_delete=fields.SET_NULL, db_constraint=False
    )
    guide_id: int | None
    arm = fields.CharEnumField(Arm, max_length=8)
    status = fields.CharEnumField(TargetStatus, max_length=12, default=TargetStatus.PLANNED)
    msgid = fields.CharField(max_length=64, default="")
    # When the push counts against the customer's frequency cap (the campaign's send).
    counted_at = fields.DatetimeField()
    send_time = fields.DatetimeField(null=True)

    class Meta:
        table = "campaign_target"
        unique_together = (("campaign", "customer"),)
        # Few indexes: a campaign of a million customers is one INSERT, and each index costs it. The unique
        # key serves every per-campaign read; (campaign, msgid) a task's customers.
        indexes = (("campaign_id", "msgid"),)


class CampaignTask(Model):
    """One ``add_msg_template``: a guide's share of a campaign (≤ 10,000 customers), its msgid and fail_list."""

    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField("scrm.Campaign", related_name="tasks")
    campaign_id: int
    sender = fields.CharField(max_length=64)
    chunk = fields.IntField(default=0)
    msgid = fields.CharField(max_length=64, default="", db_index=True)
    fail_list: fields.Field[list[str]] = fields.JSONField(default=list)
    customers = fields.IntField(default=0)
    state = fields.CharEnumField(TaskState, max_length=12, default=TaskState.OPEN)
    created_at = fields.DatetimeField()
    send_time = fields.DatetimeField(null=True)  # when the guide sent (get_groupmsg_task)
    synced_at = fields.DatetimeField(null=True)
    reminders: fields.Field[list[str]] = fields.JSONField(default=list)  # ISO times of remind_groupmsg_send

    class Meta:
        table = "campaign_task"
        unique_together = (("campaign", "sender", "chunk"),)
        indexes = (("state",),)


class Moment(Model):
    """A moment (朋友圈) task: add_moment_task's jobid, then the moment_id WeCom made of it."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    text = fields.TextField(default="")
    attachments: fields.Field[list[dict[str, Any]]] = fields.JSONField(default=list)
    tags: fields.Field[list[str]] = fields.JSONField(default=list)  # corp tag names (who may see it)
    senders: fields.Field[list[str]] = fields.JSONField(default=list)  # guides asked to publish
    jobid = fields.CharField(max_length=128, default="")
    moment_id = fields.CharField(max_length=128, default="")
    created_at = fields.DatetimeField()
    synced_at = fields.DatetimeField(null=True)

    class Meta:
        table = "moment"


class MomentGuide(Model):
    """One guide asked to publish a moment, as the last sync found it."""

    id = fields.BigIntField(primary_key=True)
    moment: fields.ForeignKeyRelation[Moment] = fields.ForeignKeyField("scrm.Moment", related_name="guides")
    moment_id: int
    userid = fields.CharField(max_length=64)
    published = fields.BooleanField(default=False)
    customers = fields.IntField(default=0)  # who could see it (get_moment_send_result)
    likes = fields.IntField(default=0)
    comments = fields.IntField(default=0)

    class Meta:
        table = "moment_guide"
        unique_together = (("moment", "userid"),)


class GuideBehaviour(Model):
    """One guide's day as get_user_behavior_data reports it."""

    id = fields.BigIntField(primary_key=True)
    guide: fields.ForeignKeyRelation[Guide] = fields.ForeignKeyField("scrm.Guide", related_name="behaviour")
    guide_id: int
    day = fields.DateField()
    new_apply_cnt = fields.IntField(default=0)
    new_contact_cnt = fields.IntField(default=0)
    chat_cnt = fields.IntField(default=0)
    message_cnt = fields.IntField(default=0)
    reply_percentage = fields.FloatField(null=True)
    avg_reply_time = fields.FloatField(null=True)  # minutes
    negative_feedback_cnt = fields.IntField(default=0)

    class Meta:
        table = "guide_behaviour"
        unique_together = (("guide", "day"),)
