"""Channel-code metrics (channels/): customers added by scanning a code, less those lost.

At store level a customer counts for the store the code belongs to (a store's codes, its guides'
personal codes), not the store of the guide who answered the scan.
"""

from __future__ import annotations

from boards.kinds import MetricQuery, metric


@metric("channel_net_adds", label="渠道码净增")
def channel_net_adds(q: MetricQuery) -> str:
    key = "d.store_id" if q.level == "store" else "g.id"
    return (
        f"SELECT {key} AS k, SUM(d.v) AS v FROM ("
        f"SELECT r.guide_id, c.store_id, 1 AS v FROM relationship r JOIN channel_code c ON c.id = r.channel_id "
        f"WHERE r.created_at >= {q.start} AND r.created_at < {q.end} AND r.add_way <> 201 "
        f"UNION ALL SELECT r.guide_id, c.store_id, -1 AS v FROM relationship r "
        f"JOIN channel_code c ON c.id = r.channel_id "
        f"WHERE r.deleted_by_customer_at >= {q.start} AND r.deleted_by_customer_at < {q.end}"
        f") d JOIN guide g ON g.id = d.guide_id GROUP BY {key}"
    )
