"""Chat messages kept for keyword rules and audit: the archive's (intake) and members' texts to the app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from customers.models import ChatMessage, Customer

__all__ = ["ArchivedMessage", "record_app_text", "record_archived"]


@dataclass(frozen=True, slots=True)
class ArchivedMessage:
    msg_id: str
    external_userid: str
    from_id: str
    content: str
    sent_at: datetime


async def record_archived(message: ArchivedMessage) -> int | None:
    """Keep one archived message once; the customer's id when we know the customer."""
    customer = await Customer.get_or_none(external_userid=message.external_userid)
    await ChatMessage.get_or_create(
        msg_id=f"archive:{message.msg_id}",
        defaults={
            "source": "archive",
            "from_id": message.from_id,
            "customer_id": customer.id if customer else None,
            "content": message.content,
            "sent_at": message.sent_at,
        },
    )
    return int(customer.id) if customer is not None else None


async def record_app_text(msg_id: str, from_id: str, content: str, sent_at: datetime) -> None:
    """A member's text to the app, kept once (chat commands read these too)."""
    await ChatMessage.get_or_create(
        msg_id=f"app:{msg_id}",
        defaults={"source": "app", "from_id": from_id, "content": content, "sent_at": sent_at},
    )
