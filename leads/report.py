"""Attribution (lead → contacted → converted) and the figures per guide and store.

A lead converts when its customer pays an order within ``attribution_days`` after the guide
pressed 已联系. These figures feed ``scrm leads report``; the board metrics below (contacted,
converted, attributed sales, contact rate) feed the leaderboards.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from boards.kinds import MetricQuery, metric
from customers.models import Order
from leads.models import Lead

__all__ = [
    "attribute_orders", "LeadFigures", "lead_figures", "format_report", "leads_contacted", "leads_converted",
    "attributed_sales", "lead_contact_rate",
]


async def attribute_orders(customer_ids: Iterable[int], attribution_days: float) -> int:
    """Mark contacted leads of these customers converted by their first order inside the window."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    leads = await Lead.filter(customer_id__in=ids, contacted_at__isnull=False, converted_at__isnull=True)
    if not leads:
        return 0
    window = timedelta(days=attribution_days)
    earliest = min(lead.contacted_at for lead in leads if lead.contacted_at is not None)
    orders = await Order.filter(customer_id__in=ids, paid_at__gte=earliest).order_by("paid_at")
    by_customer: dict[int, list[Order]] = defaultdict(list)
    for order in orders:
        by_customer[order.customer_id].append(order)  # type: ignore[index]
    converted = 0
    for lead in leads:
        contacted = lead.contacted_at
        assert contacted is not None
        match = next(
            (o for o in by_customer[lead.customer_id] if contacted <= o.paid_at <= contacted + window),
            None,
        )
        if match is None:
            continue
        converted += await Lead.filter(id=lead.id, converted_at__isnull=True).update(
            converted_at=match.paid_at, converted_order_id=match.order_id, converted_amount=match.amount
        )
    return converted


@dataclass(slots=True)
class LeadFigures:
    """One guide's (or store's) lead funnel over a period."""

    guide_userid: str
    store_code: str
    sent: int = 0
    contacted: int = 0
    converted: int = 0
    sales: Decimal = Decimal("0")
    contact_minutes: list[float] = field(default_factory=list)

    @property
    def contact_rate(self) -> float:
        return self.contacted / self.sent if self.sent else 0.0

    @property
    def conversion_rate(self) -> float:
        """Converted among contacted leads."""
        return self.converted / self.contacted if self.contacted else 0.0

    @property
    def median_minutes_to_contact(self) -> float | None:
        return statistics.median(self.contact_minutes) if self.contact_minutes else None

    def add(self, other: LeadFigures) -> None:
        self.sent += other.sent
        self.contacted += other.contacted
        self.converted += other.converted
        self.sales += other.sales
        self.contact_minutes += other.contact_minutes


async def lead_figures(since: datetime, until: datetime, *, store: str | None = None) -> list[LeadFigures]:
    """Per guide: leads whose card was sent in [since, until)."""
    query = Lead.filter(sent_at__gte=since, sent_at__lt=until)
    if store:
        query = query.filter(store_code=store)
    rows = await query.values_list("guide_userid", "store_code", "sent_at", "contacted_at", "converted_at",
                                   "converted_amount")
    figures: dict[str, LeadFigures] = {}
    for guide, store_code, sent_at, contacted_at, converted_at, amount in rows:
        f = figures.setdefault(guide, LeadFigures(guide, store_code))
        f.sent += 1
        if contacted_at is not None:
            f.contacted += 1
            f.contact_minutes.append((contacted_at - sent_at).total_seconds() / 60)
        if converted_at is not None:
            f.converted += 1
            f.sales += Decimal(str(amount or 0))
    return sorted(figures.values(), key=lambda f: (f.store_code, -f.sales, f.guide_userid))


def _row(label: str, f: LeadFigures) -> str:
    median = f.median_minutes_to_contact
    median_text = "-" if median is None else f"{median:.0f} min"
    return (
        f"{label:<24} {f.sent:>6} {f.contact_rate:>8.0%} {median_text:>10} {f.conversion_rate:>9.0%} "
        f"{f.sales:>12,.2f}"
    )


def format_report(figures: Sequence[LeadFigures]) -> str:
    header = f"{'guide / store':<24} {'sent':>6} {'contact':>8} {'median':>10} {'convert':>9} {'sales':>12}"
    lines = [header, "-" * len(header)]
    stores: dict[str, LeadFigures] = {}
    for f in figures:
        lines.append(_row(f"  {f.guide_userid}", f))
        stores.setdefault(f.store_code, LeadFigures("", f.store_code)).add(f)
    lines.append("-" * len(header))
    total = LeadFigures("", "")
    for code, f in sorted(stores.items()):
        lines.append(_row(f"store {code or '(none)'}", f))
        total.add(f)
    lines.append(_row("all", total))
    return "\n".join(lines)


# --- board metrics (boards/kinds.py) ----------------------------------------------------------------


def _leads_of_guides(q: MetricQuery, column: str) -> str:
    return (
        f"FROM lead l JOIN guide g ON g.userid = l.guide_userid "
        f"WHERE l.{column} >= {q.start} AND l.{column} < {q.end}"
    )


@metric("leads_contacted", label="跟进线索")
def leads_contacted(q: MetricQuery) -> str:
    """Leads the guide marked 已联系 in the period."""
    return f"SELECT {q.key} AS k, COUNT(*) AS v {_leads_of_guides(q, 'contacted_at')} GROUP BY {q.key}"


@metric("leads_converted", label="线索成交")
def leads_converted(q: MetricQuery) -> str:
    """Leads converted in the period (an order within ``attribution_days`` of the contact)."""
    return f"SELECT {q.key} AS k, COUNT(*) AS v {_leads_of_guides(q, 'converted_at')} GROUP BY {q.key}"


@metric("attributed_sales", label="线索业绩")
def attributed_sales(q: MetricQuery) -> str:
    """The amounts of the orders that converted leads in the period."""
    amount = q.dialect.number("l.converted_amount")
    return f"SELECT {q.key} AS k, SUM({amount}) AS v {_leads_of_guides(q, 'converted_at')} GROUP BY {q.key}"


@metric("lead_contact_rate", label="线索跟进率", percent=True)
def lead_contact_rate(q: MetricQuery) -> str:
    """Of the cards sent in the period, the share the guide marked 已联系."""
    return (
        f"SELECT {q.key} AS k, 1.0 * COUNT(l.contacted_at) / COUNT(*) AS v "
        f"{_leads_of_guides(q, 'sent_at')} GROUP BY {q.key}"
    )
