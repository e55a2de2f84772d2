"""Who a campaign reaches, in SQL: the audience (corp tags, lifecycle stages, a store, a prediction segment, an
explicit list), each customer once through the guide who last talked with them (else their first guide), a
stable holdout, and the per-customer frequency cap. INSERT … SELECT statements plan a million customers
(campaigns.service.plan: two at once, each over a range of customer ids)."""

from __future__ import annotations

import calendar
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.sqldialect import SqlParams

__all__ = ["Audience", "CustomerRange", "arm_sql", "cap_for", "capped_sql", "holdout_bucket", "picked_sql", "typed"]

_HASH_MULTIPLIER = 2654435761


@dataclass(frozen=True, slots=True)
class Audience:
    tags: tuple[str, ...] = ()  # has any of these corp tags
    stages: tuple[str, ...] = ()  # in any of these lifecycle stages (their stage tags)
    store: str = ""  # a store's code: its guides' customers, pushed by them
    top_pct: float = 0.0  # a prediction segment: the top share (percent) by P(buy in 90 days)
    external_userids: tuple[str, ...] = ()  # an explicit list

    def as_json(self) -> dict[str, Any]:
        return {"tags": list(self.tags), "stages": list(self.stages), "store": self.store, "top_pct": self.top_pct,
                "external_userids": list(self.external_userids)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        return cls(tuple(data.get("tags") or ()), tuple(data.get("stages") or ()), str(data.get("store") or ""),
                   float(data.get("top_pct") or 0), tuple(data.get("external_userids") or ()))

    @property
    def empty(self) -> bool:
        return not (self.tags or self.stages or self.store or self.top_pct or self.external_userids)


def holdout_bucket(campaign: str, customer_id: int) -> int:
    """0..9999, stable for (campaign, customer): below holdout % × 100 is held out (the SQL computes the same)."""
    return ((customer_id * _HASH_MULTIPLIER + zlib.crc32(campaign.encode())) % 4294967296) % 10000


def typed(sql: SqlParams, value: datetime) -> str:
    placeholder = sql.add(value)
    return f"CAST({placeholder} AS TIMESTAMPTZ)" if sql.dialect.name == "postgres" else placeholder


def cap_for(period: Literal["month", "week", "day"], count: int, now: datetime, tz: str) -> tuple[int, datetime]:
    """(pushes allowed, start of the current period in UTC): WeCom's defaults unless ``count`` is set."""
    local = now.astimezone(ZoneInfo(tz))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return count or 1, midnight.astimezone(UTC)
    if period == "week":
        return count or 7, (midnight - timedelta(days=local.weekday())).astimezone(UTC)
    days = calendar.monthrange(local.year, local.month)[1]
    return count or days, midnight.replace(day=1).astimezone(UTC)


CustomerRange = tuple[int, int]  # customer ids in [first, end)


def _in_range(column: str, customers: CustomerRange | None) -> str:
    """`` AND column`` within the range (our own integers, inlined); "" for all customers."""
    return "" if customers is None else f" AND {column} >= {int(customers[0])} AND {column} < {int(customers[1])}"


def _has_tag(names: tuple[str, ...], sql: SqlParams, customers: CustomerRange | None) -> str:
    # The range again on ct: the planner does not carry it over from r, and would read the tags of every customer.
    return ("EXISTS (SELECT 1 FROM customer_tag ct JOIN tag tg ON tg.id = ct.tag_id "
            "WHERE ct.customer_id = r.customer_id AND ct.removed = FALSE AND tg.deleted = FALSE "
            f"AND tg.name IN {sql.in_list(names)}{_in_range('ct.customer_id', customers)})")


def picked_sql(audience: Audience, sql: SqlParams, customers: CustomerRange | None = None) -> str:
    """``picked (customer_id, guide_id)``: a CTE, one row per customer of the audience (within ``customers``)."""
    where = ["r.deleted_by_customer_at IS NULL", "r.deleted_by_guide_at IS NULL", "r.half = FALSE", "g.active = TRUE"]
    if customers is not None:
        where.insert(0, _in_range("r.customer_id", customers).removeprefix(" AND "))
    if audience.tags:
        where.append(_has_tag(audience.tags, sql, customers))
    if audience.stages:
        where.append(_has_tag(audience.stages, sql, customers))
    if audience.store:
        where.append(f"g.store_id IN (SELECT s.id FROM store s WHERE s.code = {sql.add(audience.store)})")
    if audience.top_pct:
        where.append("r.customer_id IN (SELECT p.customer_id FROM customer_prediction p "
                     f"WHERE p.rank_pct < {sql.add(float(audience.top_pct) / 100.0)})")
    if audience.external_userids:
        where.append("r.customer_id IN (SELECT c.id FROM customer c WHERE c.external_userid IN "
                     f"{sql.in_list(audience.external_userids)})")
    # The guide who last talked with the customer (their last message in the archive), else the first guide.
    return (
        "picked AS (SELECT customer_id, guide_id FROM (SELECT r.customer_id, r.guide_id, ROW_NUMBER() OVER ("
        "PARTITION BY r.customer_id ORDER BY CASE WHEN lc.last_at IS NULL THEN 1 ELSE 0 END, lc.last_at DESC, "
        "r.created_at, r.id) AS pick FROM relationship r JOIN guide g ON g.id = r.guide_id "
        "LEFT JOIN (SELECT m.customer_id, m.from_id, MAX(m.sent_at) AS last_at FROM chat_message m "
        f"WHERE m.customer_id IS NOT NULL{_in_range('m.customer_id', customers)} GROUP BY m.customer_id, m.from_id) lc "
        "ON lc.customer_id = r.customer_id AND lc.from_id = g.userid "
        f"WHERE {' AND '.join(where)}) ranked WHERE pick = 1)"
    )


def capped_sql(sql: SqlParams, period_start: datetime, customers: CustomerRange | None = None) -> str:
    """``capped (customer_id, n)``: a CTE of the pushes each customer (within ``customers``) had in the cap's
    period: planned ones still open, sent ones, and the ones WeCom refused as over the limit."""
    return (
        "capped AS (SELECT t.customer_id, COUNT(*) AS n FROM campaign_target t WHERE t.campaign_id IN "
        f"(SELECT c.id FROM campaign c WHERE c.sent_at >= {typed(sql, period_start)}) AND t.arm = 'treated' "
        f"AND t.status IN ('planned', 'sent', 'over_limit') AND t.counted_at >= {typed(sql, period_start)}"
        f"{_in_range('t.customer_id', customers)} GROUP BY t.customer_id)"
    )


def arm_sql(campaign: str, holdout_pct: float, cap: int, sql: SqlParams) -> str:
    """The arm of ``picked p`` LEFT JOIN ``capped k``: at the cap first (they cannot receive it either way),
    then the holdout by the stable bucket, else treated."""
    salt = zlib.crc32(campaign.encode())
    bucket = f"(((p.customer_id * {_HASH_MULTIPLIER} + {salt}) % 4294967296) % 10000)"
    return (f"CASE WHEN COALESCE(k.n, 0) >= {sql.add(cap)} THEN 'capped' "
            f"WHEN {bucket} < {sql.add(round(holdout_pct * 100))} THEN 'holdout' ELSE 'treated' END")


