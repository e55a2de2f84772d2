"""Orders and messages from the brand's systems and the app: stored, then customer_changed."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from customers.events import ORDER, customer_changed
from customers.models import ChatMessage, Customer
from customers.orders import OrderIn, OrderLine, record_orders
from customers.service import utc_from_unix

router = Router("intake")


@router.on("order")
async def on_order(event: Event, deps: Deps) -> None:
    body = event.body
    lines = tuple(
        OrderLine(i["product_id"], i["product_name"], i["category"], int(i["quantity"]), Decimal(i["price"]))
        for i in body.get("items", [])
    )
    order = OrderIn(
        body["order_id"],
        Decimal(body["amount"]),
        datetime.fromisoformat(body["paid_at"]),
        body.get("external_userid", ""),
        body.get("unionid", ""),
        body.get("store_code", ""),
        body.get("guide_userid", ""),
        "intake",
        lines,
        str(body.get("_sender", "")),
    )
    for customer_id in await record_orders([order]):
        await customer_changed(deps, customer_id, ORDER, event.key)


@router.on("chat")
async def on_chat_archive_message(event: Event, deps: Deps) -> None:
    body = event.body
    customer = await Customer.get_or_none(external_userid=body["external_userid"])
    await ChatMessage.get_or_create(
        msg_id=f"archive:{body['msg_id']}",
        defaults={
            "source": "archive",
            "from_id": body["from"],
            "customer_id": customer.id if customer else None,
            "content": body["content"],
            "sent_at": datetime.fromisoformat(body["sent_at"]),
        },
    )
    if customer is not None:
        await customer_changed(deps, customer.id, "message", event.key)


@router.message("text")
async def on_app_text(event: Event, deps: Deps) -> None:
    # A member wrote to the app (chat commands read these too): kept for keyword rules and audit.
    await ChatMessage.get_or_create(
        msg_id=f"app:{event.get('MsgId')}",
        defaults={
            "source": "app",
            "from_id": event.get("FromUserName"),
            "content": event.get("Content"),
            "sent_at": utc_from_unix(event.get("CreateTime")) or deps.clock.now(),
        },
    )
