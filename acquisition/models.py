"""The brand's members (from its till, shop and mini-program), who is to add each, and the acquisition
links (获客助手) made for stores, guides and import batches.

A member is one row: the add task is its assignment (``guide``, ``task_status``), so the funnel over a
million members is one scan of one table.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from customers.models import Customer, Guide, Store


class TaskStatus(StrEnum):
    NONE = "none"  # not to be added: already a contact when imported, or no guide to give it to
    OPEN = "open"
    DONE = "done"  # the member became a contact (matched)
    PARKED = "parked"  # recycled the allowed number of times and still not added


class Member(Model):
    id = fields.BigIntField(primary_key=True)
    member_id = fields.CharField(max_length=64, unique=True)
    phone = fields.CharField(max_length=16, db_index=True)  # E.164 (+86…), the only copy we keep
    name = fields.CharField(max_length=64, default="")
    store: fields.ForeignKeyRelation[Store] = fields.ForeignKeyField("scrm.Store", related_name="members")
    store_id: int  # the column Tortoise adds for the key above
    unionid = fields.CharField(max_length=64, null=True, db_index=True)
    wanted_guide = fields.CharField(max_length=64, default="")  # the import's `guide` column
    batch = fields.CharField(max_length=64, default="")  # the file (or intake sender) it came in
    digest = fields.CharField(max_length=16, default="")  # of the imported fields: a re-import changes nothing
    # The add task.
    guide: fields.ForeignKeyNullableRelation[Guide] = fields.ForeignKeyField(
        "scrm.Guide", related_name="member_tasks", null=True, on_delete=fields.SET_NULL
    )
    guide_id: int | None  # the column Tortoise adds for the key above
    task_status = fields.CharEnumField(TaskStatus, max_length=8, default=TaskStatus.NONE)
    assigned_at = fields.DatetimeField(null=True)
    recycled = fields.SmallIntField(default=0)  # times the task moved to another guide
    past_guides: fields.Field[list[str]] = fields.JSONField(default=list)
    parked_at = fields.DatetimeField(null=True)
    # The match: who they became, how they came and how we knew.
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "scrm.Customer", related_name="members", null=True, on_delete=fields.SET_NULL
    )
    customer_id: int | None  # the column Tortoise adds for the key above
    added_at = fields.DatetimeField(null=True)
    added_by = fields.CharField(max_length=64, default="")  # the guide they added
    came_by = fields.CharField(max_length=8, default="")  # link / code / guide (导购添加)
    matched_by = fields.CharField(max_length=8, default="")  # state / unionid / phone / import
    imported_at = fields.DatetimeField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "acq_member"
        # The funnel groups by store and guide; the tick finds open tasks by age; the sidebar by guide;
        # customer_id: the sidebar finds a customer's member, and each add asks whether any is unmatched.
        indexes = (("store_id", "guide_id"), ("task_status", "assigned_at"), ("guide_id", "task_status"),
                   ("customer_id",))


class AcquisitionLink(Model):
    """One ``customer_acquisition/create_link``: for a store, a guide, or an import batch."""

    id = fields.IntField(primary_key=True)
    scope = fields.CharField(max_length=8)  # store / guide / batch
    key = fields.CharField(max_length=64)  # the store code, the userid, the batch
    link_id = fields.CharField(max_length=64, null=True, unique=True)
    name = fields.CharField(max_length=64, default="")
    url = fields.CharField(max_length=512, default="")
    users: fields.Field[list[str]] = fields.JSONField(default=list)
    deleted_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "acq_link"
        unique_together = (("scope", "key"),)
