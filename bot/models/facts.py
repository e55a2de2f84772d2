"""Facts about customers that features read: orders, shop signals, chat messages.

Kept by external ids as they arrive (an order may precede the customer's WeCom add); the
customer link is filled when the customer is known (unionid or external_userid).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise import fields
from tortoise.models import Model

from bot.models.customers import Customer


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
