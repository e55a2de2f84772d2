"""Leaderboard metric from the nightly purchase predictions (predict/): what each base is expected to buy."""

from __future__ import annotations

from boards.kinds import MetricQuery, metric


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
