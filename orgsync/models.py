"""What WeCom's address book says about departments and members, beside the store and guide rows."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from customers.models import Guide, Store


class OrgDepartment(Model):
    """A WeCom department (its id is WeCom's), with the store it is, if it is one."""

    id = fields.IntField(primary_key=True, generated=False)
    name = fields.CharField(max_length=64, default="")
    parent_id = fields.IntField(default=0)
    order = fields.BigIntField(default=0)
    leaders: fields.Field[list[str]] = fields.JSONField(default=list)
    store: fields.ForeignKeyNullableRelation[Store] = fields.ForeignKeyField(
        "scrm.Store", related_name="departments", null=True, on_delete=fields.SET_NULL
    )
    store_id: int | None  # the column Tortoise adds for the key above
    deleted = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "org_department"


class OrgMember(Model):
    """A member as the address book last described them (the guide row holds store, role, active)."""

    id = fields.IntField(primary_key=True)
    guide: fields.OneToOneRelation[Guide] = fields.OneToOneField(
        "scrm.Guide", related_name="org_member", on_delete=fields.CASCADE
    )
    guide_id: int  # the column Tortoise adds for the key above
    departments: fields.Field[list[int]] = fields.JSONField(default=list)
    main_department = fields.IntField(default=0)
    leads: fields.Field[list[int]] = fields.JSONField(default=list)  # departments this member leads
    status = fields.SmallIntField(default=1)  # user/get status: 1 active, 2 disabled, 4 not activated, 5 left
    # Made store manager because they lead the store's department (undone when they stop leading).
    manager_from_leader = fields.BooleanField(default=False)
    deleted_at = fields.DatetimeField(null=True)
    synced_at = fields.DatetimeField()

    class Meta:
        table = "org_member"
