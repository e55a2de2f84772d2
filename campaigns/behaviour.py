"""How each guide serves (get_user_behavior_data, one guide a call, daily): stored per guide and day; the
board metrics ``reply_rate``, ``first_reply_minutes`` and ``negative_feedback``; and a line in each store
manager's daily summary for the guides whose reply rate fell."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import structlog

from boards.kinds import MetricQuery, metric
from bot.deps import Deps
from bot.outbox import send_once_or_skip
from campaigns import wecomapi
from campaigns.models import GuideBehaviour
from customers.models import Guide, Role

__all__ = ["fetch_day", "first_reply_minutes", "negative_feedback", "reply_drops", "reply_rate", "run_daily"]

log = structlog.get_logger(__name__)


async def fetch_day(deps: Deps, day: date) -> int:
    """One call per active guide for ``day`` (Beijing time, as WeCom counts it); stored once per guide and day."""
    zone = ZoneInfo(deps.settings.scrm_timezone)
    start = int(datetime.combine(day, time(0), zone).timestamp())
    stored = 0
    for guide in await Guide.filter(active=True, role=Role.GUIDE):
        rows = await wecomapi.user_behavior_data(deps, guide.userid, start, start + 86399)
        for row in rows[:1]:
            await GuideBehaviour.update_or_create(guide_id=guide.id, day=day, defaults={
                "new_apply_cnt": int(row.get("new_apply_cnt") or 0),
                "new_contact_cnt": int(row.get("new_contact_cnt") or 0),
                "chat_cnt": int(row.get("chat_cnt") or 0),
                "message_cnt": int(row.get("message_cnt") or 0),
                "reply_percentage": float(row["reply_percentage"]) if row.get("chat_cnt") else None,
                "avg_reply_time": float(row["avg_reply_time"]) if row.get("chat_cnt") else None,
                "negative_feedback_cnt": int(row.get("negative_feedback_cnt") or 0),
            })
            stored += 1
    log.info("guide_behaviour_fetched", day=day.isoformat(), guides=stored)
    return stored


async def reply_drops(day: date, drop_points: float) -> dict[int, list[tuple[Guide, float, float]]]:
    """By store: guides whose reply rate on ``day`` is ``drop_points`` or more below their mean of the 7 days before."""
    rows = await GuideBehaviour.filter(day__gte=day - timedelta(days=7), day__lte=day,
                                       reply_percentage__isnull=False).prefetch_related("guide")
    history: dict[int, list[float]] = defaultdict(list)
    today: dict[int, tuple[Guide, float]] = {}
    for row in rows:
        assert row.reply_percentage is not None
        if row.day == day:
            today[row.guide_id] = (row.guide, row.reply_percentage)
        else:
            history[row.guide_id].append(row.reply_percentage)
    out: dict[int, list[tuple[Guide, float, float]]] = defaultdict(list)
    for guide_id, (guide, rate) in today.items():
        before = history.get(guide_id)
        if before and guide.store_id is not None and sum(before) / len(before) - rate >= drop_points:
            out[guide.store_id].append((guide, sum(before) / len(before), rate))
    return out


async def run_daily(deps: Deps) -> int:
    """Yesterday's figures, then each store manager's summary of the guides whose reply rate fell."""
    zone = ZoneInfo(deps.settings.scrm_timezone)
    yesterday = deps.clock.now().astimezone(zone).date() - timedelta(days=1)
    await fetch_day(deps, yesterday)
    templates = deps.config.templates
    sent = 0
    for store_id, drops in (await reply_drops(yesterday, deps.settings.scrm_behaviour_reply_drop_pct)).items():
        lines = "\n".join(templates.render("behaviour_reply_drop_line", guide_name=g.name or g.userid,
                                           previous=f"{before:.0f}%", rate=f"{rate:.0f}%") for g, before, rate in drops)
        for manager in await Guide.filter(store_id=store_id, role=Role.STORE_MANAGER, active=True).prefetch_related(
                "store"):
            text = templates.render("behaviour_summary", store_name=manager.store.name if manager.store else "",
                                    date=yesterday.isoformat(), lines=lines)

            async def send(to: str = manager.userid, body: str = text) -> None:
                await deps.wecom.send_text([to], body)

            if await send_once_or_skip(f"behaviour:{yesterday}:{manager.userid}", "behaviour_summary",
                                       manager.userid, send, deps.clock):
                sent += 1
    return sent


def _day_range(q: MetricQuery) -> str:
    # Days are dates: a day counts when its midnight (UTC) is inside the period.
    cast = "CAST(b.day AS TIMESTAMPTZ)" if q.dialect.name == "postgres" else "b.day || ' 00:00:00+00:00'"
    return f"{cast} >= {q.start} AND {cast} < {q.end}"


@metric("reply_rate", label="回复率", percent=True)
def reply_rate(q: MetricQuery) -> str:
    """The guide's mean daily reply rate (get_user_behavior_data's reply_percentage) over the period."""
    return (f"SELECT {q.key} AS k, AVG(b.reply_percentage) / 100.0 AS v FROM guide_behaviour b "
            f"JOIN guide g ON g.id = b.guide_id WHERE b.reply_percentage IS NOT NULL AND {_day_range(q)} "
            f"GROUP BY {q.key}")


@metric("first_reply_minutes", label="平均首次回复(分钟)", higher_is_better=False)
def first_reply_minutes(q: MetricQuery) -> str:
    """The guide's mean daily average first-reply time in minutes over the period."""
    return (f"SELECT {q.key} AS k, AVG(b.avg_reply_time) AS v FROM guide_behaviour b "
            f"JOIN guide g ON g.id = b.guide_id WHERE b.avg_reply_time IS NOT NULL AND {_day_range(q)} "
            f"GROUP BY {q.key}")


@metric("negative_feedback", label="被删除/拉黑", higher_is_better=False)
def negative_feedback(q: MetricQuery) -> str:
    """Customers who deleted or blocked the guide in the period."""
    return (f"SELECT {q.key} AS k, SUM(b.negative_feedback_cnt) AS v FROM guide_behaviour b "
            f"JOIN guide g ON g.id = b.guide_id WHERE {_day_range(q)} GROUP BY {q.key}")



