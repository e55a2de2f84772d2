"""Customer groups (客户群): group codes as WeCom join ways and the groups each lists, who joined
through which code, the group welcome templates made in WeCom, group pushes, and daily figures."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from customers.models import Store


class GroupCode(Model):
    """A group code (群活码): one ``groupchat/add_join_way`` (``kind``: store, config or chat)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    kind = fields.CharField(max_length=8)
    state = fields.CharField(max_length=30, unique=True)
    store: fields.ForeignKeyNullableRelation[Store] = fields.ForeignKeyField(
        "scrm.Store", related_name="group_codes", null=True, on_delete=fields.SET_NULL
    )
    store_id: int | None  # the column Tortoise adds for the key above
    owner_userid = fields.CharField(max_length=64, default="")
    campaign = fields.CharField(max_length=64, default="")
    welcome = fields.CharField(max_length=48, default="")  # the groups.yaml welcome id its groups use
    config_id = fields.CharField(max_length=64, null=True, unique=True)
    qr_code = fields.CharField(max_length=512, default="")
    room_base_name = fields.CharField(max_length=40, default="")
    room_base_id = fields.IntField(default=1)
    created_by = fields.CharField(max_length=64, default="")
    media_id = fields.CharField(max_length=128, default="")
    media_uploaded_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "group_code"


class GroupCodeChat(Model):
    """A group of a code: listed in its join way or not (full, or waiting its turn)."""

    id = fields.BigIntField(primary_key=True)
    code: fields.ForeignKeyRelation[GroupCode] = fields.ForeignKeyField(
        "scrm.GroupCode", related_name="chats", on_delete=fields.CASCADE
    )
    code_id: int  # the column Tortoise adds for the key above
    chat_id = fields.CharField(max_length=64, unique=True)
    members = fields.IntField(default=0)
    listed = fields.BooleanField(default=False)
    # When the member-change callback that took it to the full mark was made (WeCom's CreateTime),
    # and when the join way stopped listing it: the rollover's delay is the difference.
    full_at = fields.DatetimeField(null=True)
    unlisted_at = fields.DatetimeField(null=True)
    added_at = fields.DatetimeField()

    class Meta:
        table = "group_code_chat"


class GroupJoin(Model):
    """A customer who joined a group, attributed to the code (and its store) they came through."""

    id = fields.BigIntField(primary_key=True)
    chat_id = fields.CharField(max_length=64)
    external_userid = fields.CharField(max_length=64)
    code: fields.ForeignKeyNullableRelation[GroupCode] = fields.ForeignKeyField(
        "scrm.GroupCode", related_name="joins", null=True, on_delete=fields.SET_NULL
    )
    code_id: int | None  # the column Tortoise adds for the key above
    store_id = fields.IntField(null=True)
    owner_userid = fields.CharField(max_length=64, default="")
    state = fields.CharField(max_length=30, default="")
    join_scene = fields.SmallIntField(default=0)
    joined_at = fields.DatetimeField()

    class Meta:
        table = "group_join"
        unique_together = (("chat_id", "external_userid"),)
        indexes = (("store_id", "joined_at"),)


class GroupWelcome(Model):
    """A group welcome of config/groups.yaml as made in WeCom's library (``group_welcome_template``)."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=48, unique=True)
    template_id = fields.CharField(max_length=64)
    digest = fields.CharField(max_length=64)  # of what was sent: an edit only when the text changed
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "group_welcome"


class GroupPush(Model):
    """One group step for one owner's groups: a group mass send (``msgid``) or a task in the sidebar."""

    id = fields.BigIntField(primary_key=True)
    playbook = fields.CharField(max_length=48)
    step = fields.CharField(max_length=48)
    occurrence = fields.CharField(max_length=96)  # the week, the date or the new group it is for
    owner_userid = fields.CharField(max_length=64)
    mode = fields.CharField(max_length=8)  # mass / task
    chat_ids: fields.Field[list[str]] = fields.JSONField(default=list)
    text = fields.TextField(default="")
    msgid = fields.CharField(max_length=64, default="")
    due_at = fields.DatetimeField()
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)  # the owner confirmed (mass) or sent it from the sidebar (task)
    sent_chats = fields.IntField(default=0)
    sent_chat_ids: fields.Field[list[str]] = fields.JSONField(default=list)  # a task: the groups it was sent to
    synced_at = fields.DatetimeField(null=True)

    class Meta:
        table = "group_push"
        unique_together = (("playbook", "step", "occurrence", "owner_userid"),)
        indexes = (("sent_at", "created_at"),)


class GroupDailyStat(Model):
    """One owner's groups on one day, from ``groupchat/statistic``."""

    id = fields.BigIntField(primary_key=True)
    day = fields.DateField()
    owner_userid = fields.CharField(max_length=64)
    new_chat_cnt = fields.IntField(default=0)
    chat_total = fields.IntField(default=0)
    chat_has_msg = fields.IntField(default=0)
    new_member_cnt = fields.IntField(default=0)
    member_total = fields.IntField(default=0)
    member_has_msg = fields.IntField(default=0)
    msg_total = fields.IntField(default=0)

    class Meta:
        table = "group_daily_stat"
        unique_together = (("day", "owner_userid"),)
