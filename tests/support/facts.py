"""Crafting customers for tests: in WeCom (the simulator) and in our database, with their facts."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from customers.models import ChatMessage, Customer, Guide, Relationship, Signal
from customers.orders import OrderIn, record_orders

_ids = itertools.count(1)


async def craft_customer(
    state: Any, given: Mapping[str, Any], now: datetime, *, guide: str = "guide_sh01_a", external_userid: str = "",
    name: str = "",
) -> Customer:
    """A customer of ``guide`` with the facts of a rule example's ``given:``."""
    n = next(_ids)
    external_userid = external_userid or f"wmCRAFT{n:05d}"
    if guide not in state.members:
        state.add_member(guide)
    name = name or f"客户{n}"
    state.add_external_contact(external_userid, name)
    state.relate(guide, external_userid, state=given.get("state", ""))
    member, _ = await Guide.get_or_create(userid=guide)
    customer = await Customer.create(external_userid=external_userid, name=name, first_seen_at=now)
    relationship = await Relationship.create(
        guide=member, customer=customer, state=given.get("state", ""), created_at=now - timedelta(days=400)
    )
    if given.get("lost"):
        relationship.deleted_by_customer_at = now
        await relationship.save()
        state.relations[guide].pop(external_userid, None)
    orders = [
        OrderIn(f"o{n}-{i}", Decimal(str(o["amount"])), now - timedelta(days=o["days_ago"]), external_userid)
        for i, o in enumerate(given.get("orders", []))
    ]
    await record_orders(orders)
    for i, s in enumerate(given.get("signals", [])):
        for t in range(int(s.get("times", 1))):
            await Signal.create(
                event_id=f"s{n}-{i}-{t}", type=s["type"], customer=customer, external_userid=external_userid,
                category=s.get("category", ""), product_id=s.get("product", ""),
                occurred_at=now - timedelta(days=s.get("days_ago", 0), minutes=t),
            )
    for i, text in enumerate(given.get("messages", [])):
        await ChatMessage.create(msg_id=f"m{n}-{i}", source="archive", from_id=external_userid, customer=customer,
                                 content=text, sent_at=now - timedelta(days=1))
    if "prediction" in given:
        await craft_prediction(customer, given["prediction"], now)
    return await Customer.get(id=customer.id)


async def craft_prediction(customer: Customer, given: Mapping[str, Any], now: datetime) -> None:
    """A nightly prediction for ``customer`` (unspecified figures: middling values)."""
    from predict.models import CustomerPrediction

    p90 = float(given.get("p_buy_90", 0.3))
    await CustomerPrediction.create(
        customer=customer, p_buy_30=float(given.get("p_buy_30", p90 / 2)), p_buy_90=p90,
        purchases_90=float(given.get("purchases_90", p90)), spend_90=float(given.get("spend_90", p90 * 300)),
        p_alive=float(given.get("p_alive", 0.8)), p_alive_peak=given.get("p_alive_peak"),
        rank_pct=float(given.get("rank_pct", 0.5)), method=str(given.get("method", "model")),
        why=dict(given.get("why", {})), computed_at=now,
    )
