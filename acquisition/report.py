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
Two grouped scans of ``acq_member`` (bench/acquisition.py: a million members on PostgreSQL).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from boards.kinds import MetricQuery, metric
from bot.sqldialect import Dialect, SqlParams, connection
from customers.models import Guide, Store

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
# Grouped by the integer keys alone (a hash aggregate over one scan); the names are looked up after.
# A member matched without a task (guide_id NULL) counts for the guide they added.
_KEYS = ("m.store_id AS store_id, m.guide_id AS guide_id, "
         "CASE WHEN m.guide_id IS NULL THEN m.added_by ELSE '' END AS added_by")
_GROUP = "m.store_id, m.guide_id, CASE WHEN m.guide_id IS NULL THEN m.added_by ELSE '' END"
_FUNNEL = """
SELECT {keys}, COUNT(*) AS imported,
  SUM(CASE WHEN m.assigned_at IS NOT NULL OR ({added}) THEN 1 ELSE 0 END) AS assigned,
  SUM(CASE WHEN {added} THEN 1 ELSE 0 END) AS added,
  SUM(CASE WHEN m.came_by = 'link' THEN 1 ELSE 0 END) AS added_via_link,
  SUM(CASE WHEN m.came_by = 'code' THEN 1 ELSE 0 END) AS added_via_code,
  SUM(CASE WHEN m.matched_by = 'phone' THEN 1 ELSE 0 END) AS added_via_phone,
  SUM(CASE WHEN m.matched_by = 'unionid' THEN 1 ELSE 0 END) AS added_via_unionid,
  SUM(CASE WHEN m.task_status = 'open' THEN 1 ELSE 0 END) AS open,
  SUM(CASE WHEN m.task_status = 'open' AND m.assigned_at < {due} THEN 1 ELSE 0 END) AS overdue,
  SUM(CASE WHEN m.recycled > 0 THEN 1 ELSE 0 END) AS recycled,
  SUM(CASE WHEN m.task_status = 'parked' THEN 1 ELSE 0 END) AS parked
FROM acq_member m WHERE m.imported_at >= {since} GROUP BY {group}
"""
# Apart, so the planner may join the (few) orders to the added members as a hash semi-join.
_BOUGHT = """
SELECT {keys}, COUNT(*) AS bought_30d
FROM acq_member m WHERE m.imported_at >= {since} AND {added} AND EXISTS (SELECT 1 FROM orders o
  WHERE o.customer_id = m.customer_id AND o.paid_at >= m.added_at AND {within})
GROUP BY {group}
"""


async def funnel(now: datetime, due_days: float, *, since: datetime | None = None) -> dict[str, Any]:
    """``{"total": {...}, "stores": [{"store": code, ...}], "guides": [{"userid": id, ...}]}``."""
    conn = connection()
    since = since or datetime(2000, 1, 1, tzinfo=now.tzinfo)
    counted, bought = SqlParams(Dialect.of(conn)), SqlParams(Dialect.of(conn))
    counting = _FUNNEL.format(added=_ADDED, due=counted.add(now - timedelta(days=due_days)),
                              since=counted.add(since), keys=_KEYS, group=_GROUP)
    buying = _BOUGHT.format(added=_ADDED, since=bought.add(since), keys=_KEYS, group=_GROUP,
                            within=f"{bought.dialect.days_between('o.paid_at', 'm.added_at')} <= 30")
    # The two scans at once (each on its own pooled connection on PostgreSQL).
    counts, buyers = await asyncio.gather(conn.execute_query_dict(counting, counted.values),
                                          conn.execute_query_dict(buying, bought.values))
    groups: dict[tuple[int, int | None, str], Funnel] = {}
    for row in counts:
        key = (int(row["store_id"]), row["guide_id"], str(row["added_by"] or ""))
        groups[key] = Funnel(**{name: int(row[name] or 0) for name in FUNNEL_KEYS if name != "bought_30d"})
    for row in buyers:
        key = (int(row["store_id"]), row["guide_id"], str(row["added_by"] or ""))
        groups.setdefault(key, Funnel()).bought_30d += int(row["bought_30d"] or 0)
    store_codes = dict(await Store.filter(id__in={k[0] for k in groups}).values_list("id", "code"))
    userids = dict(await Guide.filter(id__in={k[1] for k in groups if k[1] is not None}).values_list("id", "userid"))
    total = Funnel()
    stores: dict[str, Funnel] = {}
    guides: dict[str, Funnel] = {}
    for (store_id, guide_id, added_by), figures in groups.items():
        total.add(figures)
        stores.setdefault(str(store_codes.get(store_id, store_id)), Funnel()).add(figures)
        userid = userids.get(guide_id) if guide_id is not None else added_by
        if userid:
            guides.setdefault(str(userid), Funnel()).add(figures)
    return {
        "total": asdict(total),
        "stores": [{"store": code, **asdict(f)} for code, f in sorted(stores.items())],
        "guides": [{"userid": userid, **asdict(f)} for userid, f in sorted(guides.items())],
    }


@metric("member_add_rate", label="会员添加率", percent=True)
def member_add_rate(q: MetricQuery) -> str:
    """Of the members the guide had to add in the period (assigned before it ended, not added before it
    began), the share added within it."""
    return (
        f"SELECT {q.key} AS k, 1.0 * SUM(CASE WHEN m.customer_id IS NOT NULL AND m.added_at < {q.end} "
        f"THEN 1 ELSE 0 END) / COUNT(*) AS v "
        f"FROM acq_member m JOIN guide g ON g.id = m.guide_id "
        f"WHERE m.assigned_at IS NOT NULL AND m.assigned_at < {q.end} "
        f"AND (m.added_at IS NULL OR m.added_at >= {q.start}) GROUP BY {q.key}"
    )
