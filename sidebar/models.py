"""What the sidebar keeps: the guides' notes (跟进记录), an audit row per write, each script sent."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from customers.models import Customer, Guide


class SidebarNote(Model):
    id = fields.BigIntField(primary_key=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField("scrm.Customer", related_name="notes")
    customer_id: int  # the column Tortoise adds for the key above
    guide: fields.ForeignKeyRelation[Guide] = fields.ForeignKeyField("scrm.Guide", related_name="notes")
    guide_id: int  # the column Tortoise adds for the key above
    text = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "sidebar_note"
        indexes = (("customer_id", "created_at"),)


class SidebarAudit(Model):
    """One row per write made from the sidebar: who, what, on whom, with what result."""

    id = fields.BigIntField(primary_key=True)
    userid = fields.CharField(max_length=64)
    action = fields.CharField(max_length=32)
    external_userid = fields.CharField(max_length=64, default="")
    target = fields.CharField(max_length=96, default="")  # task id, lead id, tag, script id…
    result = fields.CharField(max_length=16, default="ok")
    created_at = fields.DatetimeField()

    class Meta:
        table = "sidebar_audit"
        indexes = (("userid", "created_at"),)


class ScriptSend(Model):
    """A library item or suggested text put into a chat: prepared, then sent or cancelled."""

    id = fields.BigIntField(primary_key=True)
    script_id = fields.CharField(max_length=64)
    guide_userid = fields.CharField(max_length=64)
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "scrm.Customer", related_name="script_sends", null=True, on_delete=fields.SET_NULL
    )
    customer_id: int | None  # the column Tortoise adds for the key above
    chat_id = fields.CharField(max_length=64, default="")
    status = fields.CharField(max_length=12, default="prepared")  # prepared / sent / cancelled
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "sidebar_script_send"
        indexes = (("script_id", "created_at"), ("customer_id", "created_at"))
