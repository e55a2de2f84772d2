"""HQ's figures from the nightly predictions: each store's expected 90-day sales (``scrm predict report``)
and the leaderboard metric ``expected_sales_90``."""

from __future__ import annotations

from dataclasses import dataclass

from boards.kinds import MetricQuery, metric
from bot.sqldialect import connection
from bot.templates import Templates

__all__ = ["StoreFigures", "expected_sales_90", "format_report", "store_figures"]


@dataclass(frozen=True, slots=True)
class StoreFigures:
    store: str | None  # None: the customers whose guide has no store
    customers: int  # with a prediction (bought before), each once per store
    expected_sales: float
    expected_purchases: float
    likely_buyers: float  # Σ P(buy within 90 days): the expected number of buying customers
    top_decile: int  # customers in the brand's top 10%


async def store_figures() -> list[StoreFigures]:
    """From the latest nightly predictions, per store of the customers' current guides (one row, ``store``
    None, for the customers of guides without a store)."""
    rows = await connection().execute_query_dict(
        "SELECT s.name AS store, COUNT(*) AS n, SUM(x.spend_90) AS sales, "
        "SUM(x.purchases_90) AS purchases, SUM(x.p_buy_90) AS buyers, "
        "SUM(CASE WHEN x.rank_pct < 0.1 THEN 1 ELSE 0 END) AS top "
        "FROM (SELECT DISTINCT g.store_id, p.customer_id, p.spend_90, p.purchases_90, p.p_buy_90, p.rank_pct "
        "FROM customer_prediction p JOIN relationship r ON r.customer_id = p.customer_id "
        "AND r.deleted_by_customer_at IS NULL AND r.deleted_by_guide_at IS NULL "
        "JOIN guide g ON g.id = r.guide_id) x LEFT JOIN store s ON s.id = x.store_id "
        "GROUP BY s.name ORDER BY SUM(x.spend_90) DESC"
    )
    return [
        StoreFigures(None if r["store"] is None else str(r["store"]), int(r["n"]), float(r["sales"] or 0),
                     float(r["purchases"] or 0), float(r["buyers"] or 0), int(r["top"] or 0))
        for r in rows
    ]


def format_report(templates: Templates, figures: list[StoreFigures], method: str) -> str:
    no_store = templates.render("predict_no_store")
    lines = [f"{'store':<16}{'customers':>10}{'expected 90-day sales':>24}{'purchases':>11}{'buyers':>9}"
             f"{'top 10%':>9}"]
    for f in figures:
        store = no_store if f.store is None else f.store
        lines.append(f"{store:<16}{f.customers:>10}{f.expected_sales:>24,.0f}{f.expected_purchases:>11,.0f}"
                     f"{f.likely_buyers:>9,.0f}{f.top_decile:>9}")
    total = sum(f.expected_sales for f in figures)
    lines.append(f"total expected 90-day sales ¥{total:,.0f}; customers ranked by {method}")
    return "\n".join(lines)


@metric("expected_sales_90", label="预计90天销售额")
def expected_sales_90(q: MetricQuery) -> str:
    """The expected 90-day spend of the customers each guide (or store) has now, each customer once per
    guide or store, from the latest predictions made before the period ends (a snapshot: the period's
    start only bounds nothing, but every metric binds it)."""
    return (
        f"SELECT x.k AS k, SUM(x.v) AS v FROM (SELECT DISTINCT {q.key} AS k, p.customer_id, p.spend_90 AS v "
        f"FROM customer_prediction p JOIN relationship r ON r.customer_id = p.customer_id "
        f"AND r.deleted_by_customer_at IS NULL AND r.deleted_by_guide_at IS NULL "
        f"JOIN guide g ON g.id = r.guide_id "
        f"WHERE p.computed_at < {q.end} AND (p.computed_at >= {q.start} OR p.computed_at < {q.start})) x "
        f"GROUP BY x.k"
    )
