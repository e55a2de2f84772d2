"""Orders: stored once per order id, linked to the customer, rolled up into the customer's aggregates
(first / last purchase, count, spend, purchase cycle) that RFM, lifecycle and SOP read.

CSV import columns (one line per order item; order-level columns repeat on each line):
  order_id, external_userid or unionid, amount (order total, yuan), paid_at (ISO 8601 with offset),
  and optionally store_code, guide_userid, product_id, product_name, category, quantity, price.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tortoise import Tortoise

from bot.sqldialect import Dialect, ids_filter
from customers.models import Customer, Order, OrderItem

__all__ = [
    "OrderIn",
    "OrderLine",
    "parse_order_row",
    "record_orders",
    "refresh_aggregates",
    "read_orders_csv",
    "OrderError",
]


class OrderError(ValueError):
    """An order that cannot be taken; the message says which field is wrong."""


@dataclass(frozen=True, slots=True)
class OrderLine:
    product_id: str = ""
    product_name: str = ""
    category: str = ""
    quantity: int = 1
    price: Decimal = Decimal("0")


@dataclass(frozen=True, slots=True)
class OrderIn:
    order_id: str
    amount: Decimal
    paid_at: datetime
    external_userid: str = ""
    unionid: str = ""
    store_code: str = ""
    guide_userid: str = ""
    source: str = "import"
    lines: tuple[OrderLine, ...] = field(default_factory=tuple)
    sender: str = ""  # the system that sent it: order ids are unique per sender


_MONEY_BOUND = Decimal("1e12")  # the orders table keeps 14 digits, 2 of them decimals


def _decimal(value: str, name: str) -> Decimal:
    try:
        number = Decimal(value.replace(",", "").replace("¥", "").strip() or "0")
    except InvalidOperation:
        raise OrderError(f"{name} is not a number: {value!r}") from None
    if not number.is_finite():
        raise OrderError(f"{name} is not a finite number: {value!r}")
    if number < 0:
        raise OrderError(f"{name} is negative")
    if number >= _MONEY_BOUND or number != number.quantize(Decimal("0.01")):
        raise OrderError(f"{name} needs at most 12 digits and 2 decimals: {value!r}")
    return number


def parse_order_row(row: Mapping[str, str]) -> tuple[OrderIn, OrderLine | None]:
    order_id = (row.get("order_id") or "").strip()
    if not order_id:
        raise OrderError("order_id is missing")
    external_userid = (row.get("external_userid") or "").strip()
    unionid = (row.get("unionid") or "").strip()
    if not (external_userid or unionid):
        raise OrderError("external_userid or unionid is required")
    try:
        paid_at = datetime.fromisoformat((row.get("paid_at") or "").strip())
    except ValueError:
        raise OrderError(f"paid_at is not ISO 8601: {row.get('paid_at')!r}") from None
    if paid_at.tzinfo is None:
        raise OrderError("paid_at needs a UTC offset (e.g. 2026-11-11T20:00:00+08:00)")
    order = OrderIn(
        order_id[:64],
        _decimal(row.get("amount") or "", "amount"),
        paid_at,
        external_userid[:64],
        unionid[:64],
        (row.get("store_code") or "")[:32],
        (row.get("guide_userid") or "")[:64],
    )
    line = None
    if row.get("product_id") or row.get("category") or row.get("product_name"):
        quantity = (row.get("quantity") or "1").strip() or "1"
        if not (quantity.isascii() and quantity.isdigit() and 1 <= int(quantity) <= 100_000):
            raise OrderError(f"quantity is not a whole number from 1 to 100000: {quantity[:20]!r}")
        line = OrderLine(
            (row.get("product_id") or "")[:64],
            (row.get("product_name") or "")[:128],
            (row.get("category") or "")[:64],
            int(quantity),
            _decimal(row.get("price") or "0", "price"),
        )
    return order, line


def read_orders_csv(path: Path) -> tuple[list[OrderIn], list[str]]:
    """Orders from a CSV file, and one error line per bad row (the good rows are still taken)."""
    orders: dict[str, OrderIn] = {}
    errors: list[str] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            try:
                order, line = parse_order_row(row)
            except OrderError as err:
                errors.append(f"{path}:{number}: {err}")
                continue
            known = orders.get(order.order_id)
            base = known or order
            lines = base.lines + ((line,) if line else ())
            orders[order.order_id] = OrderIn(
                **{**{f: getattr(base, f) for f in base.__dataclass_fields__}, "lines": lines}
            )
    return list(orders.values()), errors


async def record_orders(orders: Sequence[OrderIn]) -> list[int]:
    """Store new orders (an order id seen before is ignored) and return the customers affected."""
    if not orders:
        return []
    ext_ids = {o.external_userid for o in orders if o.external_userid}
    unionids = {o.unionid for o in orders if o.unionid}
    by_ext = dict(await Customer.filter(external_userid__in=list(ext_ids)).values_list("external_userid", "id"))
    by_union = dict(await Customer.filter(unionid__in=list(unionids)).values_list("unionid", "id")) if unionids else {}
    senders = {o.sender for o in orders}
    known = await Order.filter(
        order_id__in=[o.order_id for o in orders], sender__in=list(senders | {""})
    ).values_list("sender", "order_id", "source")
    existing: set[tuple[str, str]] = set()
    for sender, order_id, source in known:
        existing.add((str(sender), str(order_id)))
        if not sender and source != "import":
            # Stored before orders were keyed by sender (migration 0007): a resend from any system is it.
            existing.update((s, str(order_id)) for s in senders)
    new = list({(o.sender, o.order_id): o for o in orders if (o.sender, o.order_id) not in existing}.values())
    await Order.bulk_create(
        [
            Order(
                order_id=o.order_id,
                sender=o.sender,
                amount=o.amount,
                paid_at=o.paid_at,
                external_userid=o.external_userid or None,
                unionid=o.unionid or None,
                store_code=o.store_code,
                guide_userid=o.guide_userid,
                source=o.source,
                customer_id=by_ext.get(o.external_userid) or by_union.get(o.unionid),
            )
            for o in new
        ],
        ignore_conflicts=True,
    )
    lined = [o for o in new if o.lines]
    if lined:
        rows = await Order.filter(order_id__in=[o.order_id for o in lined]).values_list("sender", "order_id", "id")
        ids = {(str(sender), str(order_id)): int(row_id) for sender, order_id, row_id in rows}
        await OrderItem.bulk_create(
            [
                OrderItem(
                    order_id=ids[(o.sender, o.order_id)],
                    product_id=line.product_id,
                    product_name=line.product_name,
                    category=line.category,
                    quantity=line.quantity,
                    price=line.price,
                )
                for o in lined
                for line in o.lines
            ]
        )
    affected = {by_ext.get(o.external_userid) or by_union.get(o.unionid) for o in new}
    customer_ids = sorted(i for i in affected if i is not None)
    await refresh_aggregates(customer_ids)
    return customer_ids


async def refresh_aggregates(customer_ids: Iterable[int] | None) -> None:
    """Recompute order aggregates from the orders table (None: every customer), in SQL."""
    conn = Tortoise.get_connection("default")
    dialect = Dialect.of(conn)
    span = dialect.days_between("MAX(o.paid_at)", "MIN(o.paid_at)")
    ids = None if customer_ids is None else list(customer_ids)
    if ids == []:
        return
    scope = " WHERE 1 = 1" + ids_filter("customer.id", ids)
    agg = "(SELECT {expr} FROM orders o WHERE o.customer_id = customer.id)"
    await conn.execute_script(
        "UPDATE customer SET "  # noqa: S608 - fixed fragments, integer ids
        f"order_count = {agg.format(expr='COUNT(*)')}, "
        f"total_spent = {agg.format(expr='COALESCE(SUM(o.amount), 0)')}, "
        f"first_purchase_at = {agg.format(expr='MIN(o.paid_at)')}, "
        f"last_purchase_at = {agg.format(expr='MAX(o.paid_at)')}, "
        f"purchase_cycle_days = {agg.format(expr=f'CASE WHEN COUNT(*) >= 2 THEN ({span}) / (COUNT(*) - 1) END')}"
        f"{scope}"
    )


async def link_orders_to_customer(customer: Customer) -> bool:
    """Orders that arrived before the customer was known (by external_userid or unionid)."""
    query = Order.filter(customer_id__isnull=True, external_userid=customer.external_userid)
    linked = await query.update(customer_id=customer.id)
    if customer.unionid:
        linked += await Order.filter(customer_id__isnull=True, unionid=customer.unionid).update(customer_id=customer.id)
    if linked:
        await refresh_aggregates([customer.id])
    return bool(linked)
