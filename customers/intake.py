"""What the brand's systems send us about customers: orders and chat-archive messages.

Each item is checked by a strict model (like shop signals, ``leads/signals.py``): finite,
non-negative amounts with bounded digits, whole quantities, dates with a UTC offset in a plausible
range, lists where lists belong. An item that fails is rejected with the first problem named; the
rest of its batch goes through.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

if TYPE_CHECKING:
    from aiohttp import web

    from config.settings import Settings

from bot.intake import IntakeKind, ItemRejected, Moment, intake_handler

__all__ = ["add_routes", "ORDERS", "CHAT_ARCHIVE", "OrderPayload", "OrderItemPayload", "ChatMessagePayload"]


def _money_text(value: object) -> object:
    # Shops send "1,299.00" or "¥1299" as often as 1299: the CSV import has always taken both.
    if isinstance(value, str):
        return value.replace(",", "").replace("¥", "").strip()
    return value


Id = Annotated[str, Field(min_length=1, max_length=64)]
Money = Annotated[Decimal, BeforeValidator(_money_text), Field(ge=0, max_digits=14, decimal_places=2)]


class OrderItemPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    product_id: Annotated[str, Field(max_length=64)] = ""
    product_name: Annotated[str, Field(max_length=128)] = ""
    category: Annotated[str, Field(max_length=64)] = ""
    quantity: Annotated[int, Field(ge=1, le=100_000)] = 1
    price: Money = Decimal("0")


class OrderPayload(BaseModel):
    """{order_id, external_userid | unionid, amount, paid_at, store_code?, guide_userid?, items?: [...]}"""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    order_id: Id
    external_userid: Annotated[str, Field(max_length=64)] = ""
    unionid: Annotated[str, Field(max_length=64)] = ""
    amount: Money
    paid_at: Moment
    store_code: Annotated[str, Field(max_length=32)] = ""
    guide_userid: Annotated[str, Field(max_length=64)] = ""
    items: Annotated[list[OrderItemPayload], Field(max_length=500)] = []

    @model_validator(mode="after")
    def _someone(self) -> OrderPayload:
        if not (self.external_userid or self.unionid):
            raise ValueError("external_userid or unionid is required")
        return self


class ChatMessagePayload(BaseModel):
    """{msg_id, from, external_userid (the customer in the conversation), content, sent_at}"""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    msg_id: Annotated[str, Field(min_length=1, max_length=80)]  # stored as "archive:<msg_id>" (≤ 96)
    from_id: Annotated[str, Field(max_length=64, alias="from")] = ""
    external_userid: Id
    content: Annotated[str, Field(min_length=1, max_length=20_000)]
    sent_at: Moment


def _reason(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def validate_order(item: Mapping[str, Any], now: datetime) -> tuple[str, dict[str, Any]]:
    try:
        order = OrderPayload.model_validate(item, context={"now": now})
    except ValidationError as err:
        raise ItemRejected(_reason(err)) from None
    body = order.model_dump(mode="json")
    body["paid_at"] = order.paid_at.isoformat()
    return order.order_id, body


def validate_chat(item: Mapping[str, Any], now: datetime) -> tuple[str, dict[str, Any]]:
    try:
        message = ChatMessagePayload.model_validate(item, context={"now": now})
    except ValidationError as err:
        raise ItemRejected(_reason(err)) from None
    return message.msg_id, {
        "msg_id": message.msg_id,
        "from": message.from_id,
        "external_userid": message.external_userid,
        "content": message.content,
        "sent_at": message.sent_at.isoformat(),
    }


ORDERS = IntakeKind("order", "orders", validate_order)
CHAT_ARCHIVE = IntakeKind("chat", "messages", validate_chat)


def add_routes(app: web.Application, settings: Settings) -> None:
    """The intake endpoint(s), added by the app from its feature's ``routes`` (bot/feature.py)."""
    app.router.add_post("/intake/orders", intake_handler(ORDERS))
    app.router.add_post("/intake/chat-archive", intake_handler(CHAT_ARCHIVE))
