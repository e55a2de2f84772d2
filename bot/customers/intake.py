"""What the brand's systems send us about customers: orders and chat-archive messages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.customers.orders import OrderError, parse_order_row
from bot.intake import IntakeKind, ItemRejected

__all__ = ["ORDERS", "CHAT_ARCHIVE"]


def validate_order(item: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """{order_id, external_userid | unionid, amount, paid_at, store_code?, guide_userid?, items?: [...]}"""
    row = {k: "" if v is None else str(v) for k, v in item.items() if k != "items"}
    try:
        order, _ = parse_order_row(row)
        lines = [parse_order_row(row | {k: str(v) for k, v in line.items()})[1] for line in item.get("items") or []]
    except (OrderError, AttributeError) as err:
        raise ItemRejected(str(err)) from None
    body = {
        "order_id": order.order_id,
        "external_userid": order.external_userid,
        "unionid": order.unionid,
        "amount": str(order.amount),
        "paid_at": order.paid_at.isoformat(),
        "store_code": order.store_code,
        "guide_userid": order.guide_userid,
        "items": [
            {
                "product_id": ln.product_id,
                "product_name": ln.product_name,
                "category": ln.category,
                "quantity": ln.quantity,
                "price": str(ln.price),
            }
            for ln in lines
            if ln is not None
        ],
    }
    return order.order_id, body


def validate_chat(item: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """{msg_id, from, external_userid (the customer in the conversation), content, sent_at}"""
    msg_id, content = str(item.get("msg_id") or ""), item.get("content")
    if not msg_id:
        raise ItemRejected("msg_id is missing")
    if not isinstance(content, str) or not content:
        raise ItemRejected("content must be non-empty text")
    if not item.get("external_userid"):
        raise ItemRejected("external_userid is missing")
    try:
        sent_at = datetime.fromisoformat(str(item.get("sent_at")))
    except ValueError:
        raise ItemRejected("sent_at is not ISO 8601") from None
    if sent_at.tzinfo is None:
        raise ItemRejected("sent_at needs a UTC offset")
    return msg_id[:96], {
        "msg_id": msg_id[:96],
        "from": str(item.get("from") or "")[:64],
        "external_userid": str(item["external_userid"])[:64],
        "content": content[:4000],
        "sent_at": sent_at.isoformat(),
    }


ORDERS = IntakeKind("order", "orders", validate_order)
CHAT_ARCHIVE = IntakeKind("chat", "messages", validate_chat)
