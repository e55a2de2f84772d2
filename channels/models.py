"""A channel code's contact way in WeCom: config_id, QR image, who answers it, and its cached media."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from customers.models import ChannelCode


class ContactWay(Model):
    """One ``add_contact_way`` made for a channel (``kind``: config, chat, or a guide's personal code)."""

    id = fields.IntField(primary_key=True)
    channel: fields.OneToOneRelation[ChannelCode] = fields.OneToOneField(
        "scrm.ChannelCode", related_name="contact_way", on_delete=fields.CASCADE
    )
    channel_id: int  # the column Tortoise adds for the key above
    kind = fields.CharField(max_length=8)
    config_id = fields.CharField(max_length=64, null=True, unique=True)
    qr_code = fields.CharField(max_length=512, default="")
    type = fields.SmallIntField(default=2)  # 1 one member, 2 several
    users: fields.Field[list[str]] = fields.JSONField(default=list)
    parties: fields.Field[list[int]] = fields.JSONField(default=list)
    # The members a chat-made code was made for; empty: its store's members, whoever they are now.
    targets: fields.Field[list[str]] = fields.JSONField(default=list)
    remark = fields.CharField(max_length=30, default="")
    skip_verify = fields.BooleanField(default=True)
    owner_userid = fields.CharField(max_length=64, null=True, unique=True)  # a guide's personal code
    created_by = fields.CharField(max_length=64, default="")
    media_id = fields.CharField(max_length=128, default="")
    media_uploaded_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "contact_way"
