"""Channel figures per code over a period: adds, losses, net adds, early losses, buyers and sales.

- adds: relations made by scanning the code in ``[since, until)`` (hand-overs, add_way 201, aside);
- losses: customers of the code who deleted their guide in the period;
- lost within 7 days: of the period's adds, those who deleted the guide within 7 days of adding;
- bought within 30 days / sales: of the period's adds, customers with an order within 30 days
  of adding, and those orders' amounts.

The board metric ``channel_net_adds`` counts the same adds less losses for the leaderboards; at
store level a customer counts for the store the code belongs to (a store's codes, its guides'
personal codes), not the store of the guide who answered the scan.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from boards.kinds import MetricQuery, metric
from bot.templates import Templates
from customers.models import ChannelCode, Order, Relationship

__all__ = ["ChannelFigures", "TEMPLATES", "channel_figures", "channel_net_adds", "format_figures"]

TEMPLATES = ("channel_report_none", "channel_report_line", "channel_report_store")
_EARLY_LOSS = timedelta(days=7)
_BUY_WINDOW = timedelta(days=30)
_TRANSFERRED = 201


@dataclass(slots=True)
class ChannelFigures:
    state: str
    name: str
    store: str
    adds: int = 0
    losses: int = 0
    lost_within_7d: int = 0
    bought_within_30d: int = 0
    sales: Decimal = Decimal("0")

    @property
    def net_adds(self) -> int:
        return self.adds - self.losses

    @property
    def early_loss_share(self) -> float:
        return self.lost_within_7d / self.adds if self.adds else 0.0


async def channel_figures(since: datetime, until: datetime, *, store: str | None = None) -> list[ChannelFigures]:
    """One row per channel with anything in the period (or a live code), best net adds first."""
    codes = ChannelCode.all().prefetch_related("store")
    if store:
        codes = codes.filter(store__code=store)
    figures = {c.id: ChannelFigures(c.state, c.name or c.state, c.store.code if c.store else "") for c in await codes}
    added = await Relationship.filter(
        channel_id__in=list(figures), created_at__gte=since, created_at__lt=until
    ).exclude(add_way=_TRANSFERRED)
    lost = await Relationship.filter(
        channel_id__in=list(figures), deleted_by_customer_at__gte=since, deleted_by_customer_at__lt=until
    )
    for relation in lost:
        figures[relation.channel_id].losses += 1  # type: ignore[index]
    orders: dict[int, list[Order]] = defaultdict(list)
    customer_ids = list({r.customer_id for r in added})
    if customer_ids:
        for order in await Order.filter(customer_id__in=customer_ids, paid_at__gte=since,
                                        paid_at__lt=until + _BUY_WINDOW):
            orders[order.customer_id].append(order)  # type: ignore[index]
    for relation in added:
        row = figures[relation.channel_id]  # type: ignore[index]
        row.adds += 1
        gone = relation.deleted_by_customer_at
        if gone is not None and gone - relation.created_at <= _EARLY_LOSS:
            row.lost_within_7d += 1
        bought = [o for o in orders.get(relation.customer_id, [])
                  if relation.created_at <= o.paid_at <= relation.created_at + _BUY_WINDOW]
        if bought:
            row.bought_within_30d += 1
            row.sales += sum((o.amount for o in bought), Decimal("0"))
    rows = [f for f in figures.values() if f.adds or f.losses]
    return sorted(rows, key=lambda f: (-f.net_adds, -f.adds, f.state))


def format_figures(templates: Templates, rows: list[ChannelFigures]) -> list[str]:
    """Plain-text lines (CLI and chat)."""
    if not rows:
        return [templates.render("channel_report_none")]
    return [
        templates.render(
            "channel_report_line", name=f.name, state=f.state,
            store=templates.render("channel_report_store", store=f.store) if f.store else "",
            adds=f.adds, losses=f.losses, net_adds=f.net_adds, lost_7d=f.lost_within_7d,
            lost_share=f"{f.early_loss_share:.0%}", bought_30d=f.bought_within_30d, sales=f"{f.sales:,.2f}",
        )
        for f in rows
    ]


@metric("channel_net_adds", label="渠道码净增")
def channel_net_adds(q: MetricQuery) -> str:
    """Customers added by scanning a channel code, less those lost; by store, the store the code belongs to."""
    key = "d.store_id" if q.level == "store" else "g.id"
    return (
        f"SELECT {key} AS k, SUM(d.v) AS v FROM ("  # noqa: S608 - fixed fragments; bounds are bound parameters
        f"SELECT r.guide_id, c.store_id, 1 AS v FROM relationship r JOIN channel_code c ON c.id = r.channel_id "
        f"WHERE r.created_at >= {q.start} AND r.created_at < {q.end} AND r.add_way <> {_TRANSFERRED} "
        f"UNION ALL SELECT r.guide_id, c.store_id, -1 AS v FROM relationship r "
        f"JOIN channel_code c ON c.id = r.channel_id "
        f"WHERE r.deleted_by_customer_at >= {q.start} AND r.deleted_by_customer_at < {q.end}"
        f") d JOIN guide g ON g.id = d.guide_id GROUP BY {key}"
    )
