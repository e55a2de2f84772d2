"""Who the customers are, which guide has each, where they came from, and who was lost.

Unique constraints make every handler idempotent: replaying an event upserts the same rows.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    GUIDE = "guide"
    STORE_MANAGER = "store_manager"
    OPERATOR = "operator"
    HQ = "hq"
    ADMIN = "admin"


# Guide.role_source: who decided a member's role. A role set in chat is never overwritten by org.yaml.
ROLE_FROM_ORG = "org"
ROLE_FROM_CHAT = "chat"


class Store(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "store"


class Guide(Model):
    """A WeCom member: guide, store manager, operator, HQ or admin."""

    id = fields.IntField(primary_key=True)
    userid = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=64, default="")
    store: fields.ForeignKeyNullableRelation[Store] = fields.ForeignKeyField(
        "scrm.Store", related_name="guides", null=True, on_delete=fields.SET_NULL
    )
    store_id: int | None  # the column Tortoise adds for the key above
    role = fields.CharEnumField(Role, default=Role.GUIDE, max_length=16)
    # Who decided the role: "" (the default), "org" (config/org.yaml) or "chat" (an admin's 角色
    # command). A chat decision is the last word: org.yaml no longer changes that member's role.
    role_source = fields.CharField(max_length=8, default="")
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "guide"


class Customer(Model):
    id = fields.BigIntField(primary_key=True)
    external_userid = fields.CharField(max_length=64, unique=True)
    unionid = fields.CharField(max_length=64, null=True, db_index=True)
    name = fields.CharField(max_length=128, default="")
    type = fields.SmallIntField(default=1)  # 1 WeChat user, 2 WeCom user
    gender = fields.SmallIntField(default=0)  # 0 unknown, 1 male, 2 female
    avatar = fields.CharField(max_length=512, default="")
    corp_name = fields.CharField(max_length=128, default="")
    first_seen_at = fields.DatetimeField()
    # Order aggregates: filled by order intake (leads / tagging).
    first_purchase_at = fields.DatetimeField(null=True)
    last_purchase_at = fields.DatetimeField(null=True)
    order_count = fields.IntField(default=0)
    total_spent = fields.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    # Mean days between orders (NULL below two orders): the customer's own purchase cycle.
    purchase_cycle_days = fields.FloatField(null=True)
    birthday = fields.DateField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "customer"


class ChannelCode(Model):
    """A contact-way ``state`` value and what it attributes (mirrors config/channels.yaml)."""

    id = fields.IntField(primary_key=True)
    state = fields.CharField(max_length=30, unique=True)
    name = fields.CharField(max_length=64, default="")
    store: fields.ForeignKeyNullableRelation[Store] = fields.ForeignKeyField(
        "scrm.Store", related_name="channels", null=True, on_delete=fields.SET_NULL
    )
    store_id: int | None  # the column Tortoise adds for the key above
    guide_userid = fields.CharField(max_length=64, null=True)
    campaign = fields.CharField(max_length=64, default="")
    welcome_template = fields.CharField(max_length=64, default="")

    class Meta:
        table = "channel_code"


class Relationship(Model):
    """One guide ↔ customer relation, as WeCom's follow_user, with its history."""

    id = fields.BigIntField(primary_key=True)
    guide: fields.ForeignKeyRelation[Guide] = fields.ForeignKeyField("scrm.Guide", related_name="relationships")
    guide_id: int  # the column Tortoise adds for the key above
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "scrm.Customer", related_name="relationships"
    )
    customer_id: int  # the column Tortoise adds for the key above
    state = fields.CharField(max_length=30, default="")
    channel: fields.ForeignKeyNullableRelation[ChannelCode] = fields.ForeignKeyField(
        "scrm.ChannelCode", related_name="relationships", null=True, on_delete=fields.SET_NULL
    )
    channel_id: int | None  # the column Tortoise adds for the key above
    add_way = fields.SmallIntField(default=0)
    remark = fields.CharField(max_length=128, default="")
    description = fields.CharField(max_length=512, default="")
    half = fields.BooleanField(default=False)  # the customer added the guide; not accepted yet
    created_at = fields.DatetimeField()
    deleted_by_customer_at = fields.DatetimeField(null=True)
    deleted_by_guide_at = fields.DatetimeField(null=True)
    transfer_failed_reason = fields.CharField(max_length=32, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "relationship"
        unique_together = (("guide", "customer"),)
        # The unique index leads with guide_id; every per-customer lookup needs its own.
        # created_at: SOP finds the relations added in a time window.
        indexes = (("customer_id",), ("created_at",))

    @property
    def active(self) -> bool:
        return self.deleted_by_customer_at is None and self.deleted_by_guide_at is None


class GroupChat(Model):
    id = fields.BigIntField(primary_key=True)
    chat_id = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=128, default="")
    owner_userid = fields.CharField(max_length=64, default="")
    notice = fields.TextField(default="")
    member_count = fields.IntField(default=0)
    dismissed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "group_chat"


class GroupChatMember(Model):
    id = fields.BigIntField(primary_key=True)
    chat: fields.ForeignKeyRelation[GroupChat] = fields.ForeignKeyField("scrm.GroupChat", related_name="members")
    chat_id: int  # the column Tortoise adds for the key above
    userid = fields.CharField(max_length=64)
    type = fields.SmallIntField(default=1)  # 1 member, 2 external contact
    join_time = fields.DatetimeField(null=True)
    join_scene = fields.SmallIntField(default=0)

    class Meta:
        table = "group_chat_member"
        unique_together = (("chat", "userid"),)


class TagGroup(Model):
    id = fields.IntField(primary_key=True)
    wecom_id = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=64)
    order = fields.IntField(default=0)
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "tag_group"


class Tag(Model):
    id = fields.IntField(primary_key=True)
    wecom_id = fields.CharField(max_length=64, unique=True)
    group: fields.ForeignKeyRelation[TagGroup] = fields.ForeignKeyField("scrm.TagGroup", related_name="tags")
    group_id: int  # the column Tortoise adds for the key above
    name = fields.CharField(max_length=64)
    order = fields.IntField(default=0)
    deleted = fields.BooleanField(default=False)

    class Meta:
        table = "tag"


class TagSource(StrEnum):
    RULE = "rule"
    GUIDE = "guide"
    WECOM = "wecom"


class CustomerTag(Model):
    """A tag on one (guide, customer) relation — WeCom keeps tags per member and customer."""

    id = fields.BigIntField(primary_key=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField("scrm.Customer", related_name="tags")
    customer_id: int  # the column Tortoise adds for the key above
    guide: fields.ForeignKeyRelation[Guide] = fields.ForeignKeyField("scrm.Guide", related_name="customer_tags")
    guide_id: int  # the column Tortoise adds for the key above
    tag: fields.ForeignKeyRelation[Tag] = fields.ForeignKeyField("scrm.Tag", related_name="customer_tags")
    tag_id: int  # the column Tortoise adds for the key above
    source = fields.CharEnumField(TagSource, max_length=8)
    rule_id = fields.CharField(max_length=64, default="")
    evidence: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)
    # Sync state with WeCom: ``in_wecom`` is what WeCom has as far as we know; ``removed`` marks
    # a rule tag that should go (kept until WeCom confirms the removal).
    in_wecom = fields.BooleanField(default=True)
    removed = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "customer_tag"
        unique_together = (("customer", "guide", "tag"),)
        # created_at: SOP finds the tags customers entered in a time window.
        indexes = (("in_wecom", "removed"), ("created_at",))


class SyncState(Model):
    """Where a long sync stopped (e.g. the contacts backfill), so it resumes instead of restarting."""

    name = fields.CharField(max_length=64, primary_key=True)
    data: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "sync_state"


class Order(Model):
    id = fields.BigIntField(primary_key=True)
    order_id = fields.CharField(max_length=64, db_index=True)
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "scrm.Customer", related_name="orders", null=True, on_delete=fields.SET_NULL
    )
    customer_id: int | None  # the column Tortoise adds for the key above
    external_userid = fields.CharField(max_length=64, null=True, db_index=True)
    unionid = fields.CharField(max_length=64, null=True, db_index=True)
    amount = fields.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    paid_at = fields.DatetimeField(db_index=True)
    store_code = fields.CharField(max_length=32, default="")
    guide_userid = fields.CharField(max_length=64, default="")
    source = fields.CharField(max_length=16, default="import")
    # The system that sent it (an intake source such as "shop" or "pos"; "" for a CSV import): order
    # ids are unique per sender, so a POS order and a shop order with the same id are two orders.
    sender = fields.CharField(max_length=64, default="")

    class Meta:
        table = "orders"
        indexes = (("customer_id", "paid_at"),)
        unique_together = (("sender", "order_id"),)


class OrderItem(Model):
    id = fields.BigIntField(primary_key=True)
    order: fields.ForeignKeyRelation[Order] = fields.ForeignKeyField("scrm.Order", related_name="items")
    order_id: int  # the column Tortoise adds for the key above
    product_id = fields.CharField(max_length=64, default="")
    product_name = fields.CharField(max_length=128, default="")
    category = fields.CharField(max_length=64, default="")
    quantity = fields.IntField(default=1)
    price = fields.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))

    class Meta:
        table = "order_item"
        indexes = (("order_id",),)  # replenishment and category rules join items by order


class Signal(Model):
    """A shop behaviour signal (browse, add_to_cart, order_paid …), de-duplicated by (source, event_id)."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.CharField(max_length=96, db_index=True)
    type = fields.CharField(max_length=32)
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "scrm.Customer", related_name="signals", null=True, on_delete=fields.SET_NULL
    )
    customer_id: int | None  # the column Tortoise adds for the key above
    external_userid = fields.CharField(max_length=64, null=True)
    unionid = fields.CharField(max_length=64, null=True, db_index=True)
    member_id = fields.CharField(max_length=64, null=True)
    product_id = fields.CharField(max_length=64, default="")
    product_name = fields.CharField(max_length=128, default="")
    category = fields.CharField(max_length=64, default="")
    occurred_at = fields.DatetimeField()
    payload: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)
    source = fields.CharField(max_length=32, default="")

    class Meta:
        table = "signal"
        # Per-customer activity; the leads sweep finds recent carts and coupons by type and time.
        indexes = (("customer_id", "type", "occurred_at"), ("type", "occurred_at"))
        # event ids are the sender's own: two systems may use the same one for different signals.
        unique_together = (("source", "event_id"),)


class ChatMessage(Model):
    """Words that reached us: text messages to the app, and chat-archive messages posted to us."""

    id = fields.BigIntField(primary_key=True)
    msg_id = fields.CharField(max_length=96, unique=True)
    source = fields.CharField(max_length=16)  # app / archive
    from_id = fields.CharField(max_length=64)
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "scrm.Customer", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    customer_id: int | None  # the column Tortoise adds for the key above
    content = fields.TextField()
    sent_at = fields.DatetimeField()

    class Meta:
        table = "chat_message"
        indexes = (("customer_id", "sent_at"),)
