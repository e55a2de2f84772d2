"""Which scripts guides use, and what followed: sends per library item and the orders within 7 days.

An order counts for a send when the same customer paid within ``window_days`` after it (each
order once per script). ``scrm sidebar report`` prints it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from customers.models import Order
from sidebar.models import ScriptSend

__all__ = ["ScriptRow", "format_report", "script_report"]


@dataclass(frozen=True, slots=True)
class ScriptRow:
    script_id: str
    sends: int
    guides: int
    customers: int
    orders: int
    amount: Decimal


async def script_report(since: datetime, until: datetime, window_days: int = 7) -> list[ScriptRow]:
    sends = await ScriptSend.filter(status="sent", sent_at__gte=since, sent_at__lt=until).values(
        "script_id", "guide_userid", "customer_id", "sent_at"
    )
    customer_ids = {s["customer_id"] for s in sends if s["customer_id"]}
    orders = await Order.filter(
        customer_id__in=list(customer_ids), paid_at__gte=since, paid_at__lt=until + timedelta(days=window_days)
    ).values("id", "customer_id", "paid_at", "amount") if customer_ids else []
    by_customer: dict[int, list[dict[str, object]]] = defaultdict(list)
    for order in orders:
        by_customer[order["customer_id"]].append(order)
    per_script: dict[str, list[dict[str, object]]] = defaultdict(list)
    for send in sends:
        per_script[send["script_id"]].append(send)
    rows = []
    for script_id, items in per_script.items():
        counted: dict[int, Decimal] = {}
        for send in items:
            start = send["sent_at"]
            assert isinstance(start, datetime)
            for order in by_customer.get(send["customer_id"], []):  # type: ignore[call-overload]
                paid = order["paid_at"]
                assert isinstance(paid, datetime)
                if start <= paid < start + timedelta(days=window_days):
                    counted[int(str(order["id"]))] = Decimal(str(order["amount"]))
        rows.append(ScriptRow(
            script_id, len(items), len({s["guide_userid"] for s in items}),
            len({s["customer_id"] for s in items if s["customer_id"]}), len(counted), sum(counted.values(), Decimal()),
        ))
    return sorted(rows, key=lambda r: (-r.sends, r.script_id))


def format_report(rows: list[ScriptRow]) -> list[str]:
    if not rows:
        return ["no script sent in the period"]
    lines = [f"{'script':<20} {'sends':>6} {'guides':>6} {'customers':>9} {'orders_7d':>9} {'amount_7d':>12}"]
    lines += [f"{r.script_id:<20} {r.sends:>6} {r.guides:>6} {r.customers:>9} {r.orders:>9} {r.amount:>12,.2f}"
              for r in rows]
    return lines
