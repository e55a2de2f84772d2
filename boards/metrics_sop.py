"""Leaderboard metric from SOP: the share of due tasks the guide completed."""

from __future__ import annotations

from boards.metrics import MetricQuery, metric


@metric("sop_execution_rate", label="SOP执行率", percent=True)
def sop_execution_rate(q: MetricQuery) -> str:
    """Of the tasks due in the period (holdout rows excluded), the share done."""
    return (
        f"SELECT {q.key} AS k, 1.0 * SUM(CASE WHEN t.status = 'done' THEN 1 ELSE 0 END) / COUNT(*) AS v "
        f"FROM sop_task t JOIN guide g ON g.id = t.guide_id "
        f"WHERE t.status <> 'control' AND t.due_at >= {q.start} AND t.due_at < {q.end} GROUP BY {q.key}"
    )
