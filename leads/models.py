"""Leads: what the product noticed about a customer, who it went to, and what the guide did with it."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

from customers.models import Customer


class MemberIdentity(Model):
    """The shop's member id → the customer's WeChat ids, so member-only signals find their customer."""

    member_id = fields.CharField(max_length=64, primary_key=True)
    external_userid = fields.CharField(max_length=64, null=True, db_index=True)
    unionid = fields.CharField(max_length=64, null=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "member_identity"


class LeadStatus(StrEnum):
    HELD = "held"  # waiting: quiet hours, or the guide's hourly/daily budget is spent
    SENT = "sent"  # a card is on the guide's phone, no answer yet
    FOLDED = "folded"  # over budget: counted in a digest card instead of a card of its own
    SUPPRESSED = "suppressed"  # cool-down: the customer had a lead recently and the score did not jump
    UNROUTED = "unrouted"  # nobody to send it to (the customer deleted every guide)
    CONTACTED = "contacted"
    SNOOZED = "snoozed"  # 稍后提醒: comes back as a reminder
    DISMISSED = "dismissed"


# Leads still waiting for the guide: what 线索 lists and what a hand-over moves.
OPEN_STATUSES = (LeadStatus.HELD, LeadStatus.SENT, LeadStatus.FOLDED, LeadStatus.SNOOZED)


class Lead(Model):
    id = fields.BigIntField(primary_key=True)
    # (customer, pattern, occurrence): re-evaluating the same facts never makes a second lead.
    key = fields.CharField(max_length=160, unique=True)
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField("scrm.Customer", related_name="leads")
    customer_id: int  # the column Tortoise adds for the key above
    pattern = fields.CharField(max_length=32)
    priority = fields.IntField(default=0)
    score = fields.FloatField(default=0.0)
    guide_userid = fields.CharField(max_length=64, default="", db_index=True)  # who the card goes to
    owner_userid = fields.CharField(max_length=64, default="")  # whose customer it is
    store_code = fields.CharField(max_length=32, default="")
    reason = fields.CharField(max_length=256, default="")  # "近24小时浏览「轻羽拖鞋」3次，加购未付款 ¥199"
    facts: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)
    status = fields.CharEnumField(LeadStatus, max_length=12, default=LeadStatus.HELD)
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)
    card_seq = fields.SmallIntField(default=0)  # 1 for the first card, +1 per reminder card
    response_code = fields.CharField(max_length=64, default="")
    digest_id = fields.BigIntField(null=True)  # the digest card that carried a folded lead
    remind_at = fields.DatetimeField(null=True)
    action_at = fields.DatetimeField(null=True)
    contacted_at = fields.DatetimeField(null=True)
    converted_at = fields.DatetimeField(null=True)
    converted_order_id = fields.CharField(max_length=64, null=True)
    converted_amount = fields.DecimalField(max_digits=14, decimal_places=2, null=True)

    class Meta:
        table = "lead"
        indexes = (("guide_userid", "sent_at"), ("customer_id", "created_at"), ("status", "remind_at"))

    @property
    def amount(self) -> Decimal:
        return self.converted_amount or Decimal("0")


class LeadDigest(Model):
    """One 还有 N 条线索 card: the folded leads it carried point at it."""

    id = fields.BigIntField(primary_key=True)
    guide_userid = fields.CharField(max_length=64, db_index=True)
    count = fields.IntField()
    sent_at = fields.DatetimeField()

    class Meta:
        table = "lead_digest"
