"""Shop signals: the documented schema of ``POST /signals`` and ``scrm import signals``, and validation.

Each signal is a flat JSON object. ``event_id`` is the sender's idempotency key: the same signal
sent twice (a shop's retry) has one effect. The customer is named by ``external_userid``, or
``unionid``, or ``member_id`` (mapped through the member_identity table); a signal whose customer
is not known yet is kept and linked when the customer is added.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

if TYPE_CHECKING:
    from aiohttp import web

    from config.settings import Settings

from bot.intake import IntakeKind, ItemRejected, Moment, intake_handler

__all__ = ["add_routes", "SignalType", "SignalIn", "SignalBatch", "validate_signal", "SIGNALS", "parse_signal"]


class SignalType(StrEnum):
    BROWSE = "browse"
    ADD_TO_CART = "add_to_cart"
    REMOVE_FROM_CART = "remove_from_cart"
    CHECKOUT_STARTED = "checkout_started"
    ORDER_PAID = "order_paid"
    COUPON_CLAIMED = "coupon_claimed"
    COUPON_REDEEMED = "coupon_redeemed"
    LINK_OPEN = "link_open"  # a tracked link a guide shared


Id = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(max_length=128)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]


class SignalIn(BaseModel):
    """One shop signal. Fields beyond the identity and ``type`` are filled as the type needs."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    event_id: Annotated[str, Field(min_length=1, max_length=96)]
    type: SignalType
    occurred_at: Moment  # ISO 8601 with a UTC offset, from 2000 until tomorrow
    external_userid: Id | None = None
    unionid: Id | None = None
    member_id: Id | None = None
    product_id: Text = ""
    product_name: Text = ""
    category: Annotated[str, Field(max_length=64)] = ""
    price: Money | None = None
    quantity: Annotated[int, Field(ge=0, le=100_000)] | None = None
    order_id: Id | None = None  # order_paid
    amount: Money | None = None  # order_paid: the order total
    coupon_id: Id | None = None  # coupon_claimed / coupon_redeemed
    expires_at: datetime | None = None  # coupon_claimed
    duration_s: Annotated[float, Field(ge=0, le=86_400)] | None = None  # browse: time on the page
    guide_userid: Id | None = None  # link_open: the guide whose link it was; order_paid: the serving guide
    store_code: Annotated[str, Field(max_length=32)] = ""

    @model_validator(mode="after")
    def _check(self) -> SignalIn:
        if not (self.external_userid or self.unionid or self.member_id):
            raise ValueError("one of external_userid, unionid or member_id is required")
        for name in ("occurred_at", "expires_at"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{name} needs a UTC offset")
        if self.expires_at is not None and not 2000 <= self.expires_at.year <= 2100:
            raise ValueError("expires_at is not a plausible date (2000 to 2100)")
        if self.type is SignalType.ORDER_PAID and (not self.order_id or self.amount is None):
            raise ValueError("order_paid needs order_id and amount")
        if self.type in (SignalType.COUPON_CLAIMED, SignalType.COUPON_REDEEMED) and not self.coupon_id:
            raise ValueError(f"{self.type} needs coupon_id")
        if self.type in (SignalType.BROWSE, SignalType.ADD_TO_CART) and not (self.product_id or self.category):
            raise ValueError(f"{self.type} needs product_id or category")
        return self


class SignalBatch(BaseModel):
    """The body of ``POST /signals``: 1 to 500 signals."""

    signals: list[SignalIn]


def _reason(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def parse_signal(item: Mapping[str, Any], now: datetime | None = None) -> SignalIn:
    """A validated signal (dates up to a day after ``now``, the wall clock by default), or
    ItemRejected with the first problem."""
    try:
        return SignalIn.model_validate(item, context={"now": now} if now else None)
    except ValidationError as err:
        raise ItemRejected(_reason(err)) from None


def validate_signal(item: Mapping[str, Any], now: datetime) -> tuple[str, dict[str, Any]]:
    signal = parse_signal(item, now)
    return signal.event_id, signal.model_dump(mode="json", exclude_none=True, exclude_defaults=True) | {
        "type": signal.type.value,
        "event_id": signal.event_id,
        "occurred_at": signal.occurred_at.isoformat(),
    }


SIGNALS = IntakeKind("signal", "signals", validate_signal)


def add_routes(app: web.Application, settings: Settings) -> None:
    """The intake endpoint(s), added by the app from its feature's ``routes`` (bot/feature.py)."""
    app.router.add_post("/signals", intake_handler(SIGNALS))
