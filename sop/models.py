"""SOP tables: one task per (playbook, step, customer, occurrence); one row per (playbook, step, occurrence) of a
step that acts once for its whole audience (a moment); and each playbook's paused state."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from campaigns.models import Moment
from customers.models import Customer, Guide


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    # A holdout customer: the row records the exposure for the lift report; nobody is asked to act.
    CONTROL = "control"


class SopTask(Model):
    """A dated to-do for a guide, or (status control) a holdout customer's exposure."""

    id = fields.BigIntField(primary_key=True)
    playbook = fields.CharField(max_length=64)
    step = fields.CharField(max_length=64)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField("scrm.Customer", related_name="sop_tasks")
    customer_id: int  # the column Tortoise adds for the key above
    guide: fields.ForeignKeyRelation[Guide] = fields.ForeignKeyField("scrm.Guide", related_name="sop_tasks")
    guide_id: int  # the column Tortoise adds for the key above
    # What makes this occurrence distinct: a relation's add, an order id, a tag entry, a date.
    occurrence = fields.CharField(max_length=96)
    due_at = fields.DatetimeField()
    status = fields.CharEnumField(TaskStatus, max_length=8, default=TaskStatus.OPEN)
    action = fields.CharField(max_length=16, default="message")
    goal = fields.CharField(max_length=16, default="")
    reason = fields.CharField(max_length=128, default="")
    detail = fields.CharField(max_length=64, default="")  # the product, category or holiday concerned
    value = fields.FloatField(default=0)  # ranks the guide's list: most valuable first
    suggested_text = fields.TextField(default="")
    created_at = fields.DatetimeField()
    done_at = fields.DatetimeField(null=True)
    done_by = fields.CharField(max_length=8, default="")  # button / chat / goal
    prepared_at = fields.DatetimeField(null=True)  # mass message prepared with add_msg_template
    reminded_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "sop_task"
        unique_together = (("playbook", "step", "customer", "occurrence"),)
        indexes = (("guide_id", "status", "due_at"), ("status", "due_at"), ("customer_id", "status"))


class SopOccurrence(Model):
    """One due occurrence of a step that is not a task per customer (``StepKind.per_customer`` False): e.g. the
    week's 上新 moment. The unique key makes the sweep create it once; ``prepare`` turns it into its WeCom task
    once (``moment``), or records why it could not (``error``)."""

    id = fields.BigIntField(primary_key=True)
    playbook = fields.CharField(max_length=64)
    step = fields.CharField(max_length=64)
    action = fields.CharField(max_length=16)
    occurrence = fields.CharField(max_length=96)  # the anchor day (and what it is: a holiday, a weekday)
    detail = fields.CharField(max_length=64, default="")
    due_at = fields.DatetimeField()
    created_at = fields.DatetimeField()
    prepared_at = fields.DatetimeField(null=True)
    moment: fields.ForeignKeyNullableRelation[Moment] = fields.ForeignKeyField(
        "scrm.Moment", related_name="sop_occurrences", null=True, on_delete=fields.SET_NULL)
    moment_id: int | None
    error = fields.CharField(max_length=256, default="")  # why it was not prepared (an unknown tag, no guide …)

    class Meta:
        table = "sop_occurrence"
        unique_together = (("playbook", "step", "occurrence"),)
        indexes = (("prepared_at", "due_at"),)


class SopPlaybookState(Model):
    """A playbook paused by an operator (``SOP 暂停 <名称>``). No row means running."""

    playbook = fields.CharField(max_length=64, primary_key=True)
    paused = fields.BooleanField(default=False)
    changed_by = fields.CharField(max_length=64, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "sop_playbook_state"
