"""Leaderboard metrics from leads: contacted, converted, attributed sales, contact rate."""

from __future__ import annotations

from boards.kinds import MetricQuery, metric


def _leads_of_guides(q: MetricQuery, column: str) -> str:
    return (
        f"FROM lead l JOIN guide g ON g.userid = l.guide_userid "
        f"WHERE l.{column} >= {q.start} AND l.{column} < {q.end}"
    )


@metric("leads_contacted", label="跟进线索")
def leads_contacted(q: MetricQuery) -> str:
    return f"SELECT {q.key} AS k, COUNT(*) AS v {_leads_of_guides(q, 'contacted_at')} GROUP BY {q.key}"


@metric("leads_converted", label="线索成交")
def leads_converted(q: MetricQuery) -> str:
    return f"SELECT {q.key} AS k, COUNT(*) AS v {_leads_of_guides(q, 'converted_at')} GROUP BY {q.key}"


@metric("attributed_sales", label="线索业绩")
def attributed_sales(q: MetricQuery) -> str:
    amount = q.dialect.number("l.converted_amount")
    return f"SELECT {q.key} AS k, SUM({amount}) AS v {_leads_of_guides(q, 'converted_at')} GROUP BY {q.key}"


@metric("lead_contact_rate", label="线索跟进率", percent=True)
def lead_contact_rate(q: MetricQuery) -> str:
    """Of the cards sent in the period, the share the guide marked 已联系."""
    return (
        f"SELECT {q.key} AS k, 1.0 * COUNT(l.contacted_at) / COUNT(*) AS v "
        f"{_leads_of_guides(q, 'sent_at')} GROUP BY {q.key}"
    )
