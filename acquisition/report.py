"""The funnel: per store and per guide, how far the member list has got, and the board metric.

Every figure counts members (imported in the period, when one is given):

- ``imported``; ``assigned``: given a guide's add task at some point; ``open``, ``overdue`` (open past
  ``acquire_due_days``), ``recycled`` (moved to another guide at least once), ``parked``;
- ``added``: became a guide's contact, matched to the member; ``added_via_link`` / ``added_via_code``: came
  through an acquisition link (its ``customer_channel``) / a contact-way code (门店码); ``added_via_phone`` /
  ``added_via_unionid``: recognised by a phone the guide recorded / by the unionid (a code's add is also
  counted by how it was recognised);
- ``bought_30d``: added, with an order within 30 days of the add.

A store's row counts its members; a guide's row the members whose task is (or was last) theirs.
One grouped scan of ``acq_member``: a million members in about a second on PostgreSQL (bench/acquisition.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from boards.kinds import MetricQuery, metric
from bot.sqldialect import Dialect, SqlParams, connection

__all__ = ["FUNNEL_KEYS", "Funnel", "funnel", "member_add_rate"]


@dataclass(slots=True)
class Funnel:
    imported: int = 0
    assigned: int = 0
    added: int = 0
    added_via_link: int = 0
    added_via_code: int = 0
    added_via_phone: int = 0
    added_via_unionid: int = 0
    open: int = 0
    overdue: int = 0
    recycled: int = 0
    parked: int = 0
    bought_30d: int = 0

    def add(self, other: Funnel) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    @property
    def add_rate(self) -> float:
        return self.added / self.assigned if self.assigned else 0.0


FUNNEL_KEYS = tuple(item.name for item in fields(Funnel))

_ADDED = "m.customer_id IS NOT NULL AND m.added_at IS NOT NULL"
_FUNNEL = """
SELECT s.code AS store, COALESCE(g.userid, a.userid) AS userid,
  COUNT(*) AS imported,
  SUM(CASE WHEN m.assigned_at IS NOT NULL OR ({added}) THEN 1 ELSE 0 END) AS assigned,
  SUM(CASE WHEN {added} THEN 1 ELSE 0 END) AS added,
  SUM(CASE WHEN m.came_by = 'link' THEN 1 ELSE 0 END) AS added_via_link,
  SUM(CASE WHEN m.came_by = 'code' THEN 1 ELSE 0 END) AS added_via_code,
  SUM(CASE WHEN m.matched_by = 'phone' THEN 1 ELSE 0 END) AS added_via_phone,
  SUM(CASE WHEN m.matched_by = 'unionid' THEN 1 ELSE 0 END) AS added_via_unionid,
  SUM(CASE WHEN m.task_status = 'open' THEN 1 ELSE 0 END) AS open,
  SUM(CASE WHEN m.task_status = 'open' AND m.assigned_at < {due} THEN 1 ELSE 0 END) AS overdue,
  SUM(CASE WHEN m.recycled > 0 THEN 1 ELSE 0 END) AS recycled,
  SUM(CASE WHEN m.task_status = 'parked' THEN 1 ELSE 0 END) AS parked,
  SUM(CASE WHEN {added} AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = m.customer_id
        AND o.paid_at >= m.added_at AND {within}) THEN 1 ELSE 0 END) AS bought_30d
FROM acq_member m JOIN store s ON s.id = m.store_id
LEFT JOIN guide g ON g.id = m.guide_id LEFT JOIN guide a ON a.userid = m.added_by AND m.guide_id IS NULL
WHERE m.imported_at >= {since}
GROUP BY s.code, COALESCE(g.userid, a.userid)
"""


async def funnel(now: datetime, due_days: float, *, since: datetime | None = None) -> dict[str, Any]:
    """``{"total": {...}, "stores": [{"store": code, ...}], "guides": [{"userid": id, ...}]}``."""
    conn = connection()
    sql = SqlParams(Dialect.of(conn))
    within = f"{sql.dialect.days_between('o.paid_at', 'm.added_at')} <= 30"
    query = _FUNNEL.format(added=_ADDED, due=sql.add(now - timedelta(days=due_days)), within=within,
                           since=sql.add(since or datetime(2000, 1, 1, tzinfo=now.tzinfo)))
    total = Funnel()
    stores: dict[str, Funnel] = {}
    guides: dict[str, Funnel] = {}
    for row in await conn.execute_query_dict(query, sql.values):
        figures = Funnel(**{key: int(row[key] or 0) for key in FUNNEL_KEYS})
        total.add(figures)
        stores.setdefault(str(row["store"]), Funnel()).add(figures)
        if row["userid"] is not None:
            guides.setdefault(str(row["userid"]), Funnel()).add(figures)
    return {
        "total": asdict(total),
        "stores": [{"store": code, **asdict(f)} for code, f in sorted(stores.items())],
        "guides": [{"userid": userid, **asdict(f)} for userid, f in sorted(guides.items())],
    }


@metric("member_add_rate", label="会员添加率", percent=True)
def member_add_rate(q: MetricQuery) -> str:
    """Of the members whose add task is (or was last) the guide's, assigned before the period ended, the
    share who became a contact by then."""
    return (
        f"SELECT {q.key} AS k, 1.0 * SUM(CASE WHEN m.added_at IS NOT NULL AND m.added_at < {q.end} "
        f"AND m.customer_id IS NOT NULL THEN 1 ELSE 0 END) / COUNT(*) AS v "
        f"FROM acq_member m JOIN guide g ON g.id = m.guide_id "
        f"WHERE m.assigned_at IS NOT NULL AND m.assigned_at < {q.end} GROUP BY {q.key}"
    )
