"""What guides and managers receive: the morning digest card, one reminder for overdue tasks, and the
managers' daily escalation summary. Each is sent once per (day, recipient) through the outbox, and
none goes out in quiet hours (it is kept pending and sent when they end).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from bot.deps import Deps
from bot.outbox import send_once_or_skip
from bot.sqldialect import Dialect, SqlParams, connection
from bot.templates import Templates
from bot.wecom import limits
from customers.models import Guide, Role
from sop.kinds import ACTIONS
from sop.kinds.triggers import day_bounds

# The names a task shows for a customer without one, and the actions of a task per customer (sop/kinds
# ``ACTIONS``, sop/kinds/steps.py); sop/chat.py, sop/service.py and sop/engine.py render the fallbacks too.
TEMPLATES = ("sop_customer_unnamed", "sop_customer_you", "sop_action_message", "sop_action_mass",
             "sop_action_group_post")

__all__ = [
    "NOTICES",
    "notice",
    "send_digests",
    "send_reminders",
    "send_escalations",
    "run_pending_notices",
    "task_line",
    "BUTTON_PREFIX",
    "TASK_OVERDUE_URGENCY",
    "TASK_DUE_URGENCY",
]

log = structlog.get_logger(__name__)
BUTTON_PREFIX = "sop:done:"


def _typed(sql: SqlParams, value: object) -> str:
    placeholder = sql.add(value)
    return f"CAST({placeholder} AS TIMESTAMPTZ)" if sql.dialect.name == "postgres" else placeholder


def task_line(templates: Templates, row: Mapping[str, Any], tz: str) -> str:
    due = row["due_at"]
    if not isinstance(due, datetime):  # SQLite returns the stored UTC text
        due = datetime.fromisoformat(str(due))
        due = due if due.tzinfo else due.replace(tzinfo=UTC)
    due_text = due.astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M")
    return templates.render(
        "sop_task_line",
        task_id=row["id"],
        customer_name=row["customer_name"] or templates.render("sop_customer_unnamed"),
        reason=row["reason"],
        text=row["suggested_text"],
        due=due_text,
        action=templates.render(f"sop_action_{row['action']}") if row["action"] in ACTIONS else "",
    )


# The next best action's urgency of a task (sidebar/nextaction.py puts every kind on this scale): an
# overdue one first, then the rest; within each, the most valuable (playbook priority, then the
# customer's expected spend). The digest, ``待办`` and the sidebar card use the same order.
TASK_OVERDUE_URGENCY, TASK_DUE_URGENCY = 3.0, 2.0

_OPEN_TASKS = (
    "SELECT * FROM (SELECT t.id, t.guide_id, t.reason, t.suggested_text, t.action, t.due_at, "
    "c.name AS customer_name, g.userid, g.name AS guide_name, "
    "ROW_NUMBER() OVER (PARTITION BY t.guide_id ORDER BY CASE WHEN t.due_at < {now} THEN {overdue} ELSE {due} END "
    "DESC, t.value DESC, t.due_at, t.id) AS rank_in_guide, "
    "COUNT(*) OVER (PARTITION BY t.guide_id) AS total "
    "FROM sop_task t JOIN customer c ON c.id = t.customer_id JOIN guide g ON g.id = t.guide_id "
    "WHERE t.status = 'open' AND t.due_at < {until}{extra} "
    # A customer who deleted the guide (or was removed) since is no longer a task.
    "AND EXISTS (SELECT 1 FROM relationship r WHERE r.customer_id = t.customer_id AND r.guide_id = t.guide_id "
    "AND r.deleted_by_customer_at IS NULL AND r.deleted_by_guide_at IS NULL)) x WHERE rank_in_guide <= {top} "
    "ORDER BY guide_id, rank_in_guide"
)


async def open_tasks_by_guide(
    until: datetime, top: int, *, userid: str | None = None, extra: str = "", now: datetime | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The open tasks due before ``until``, overdue (before ``now``) first, then most valuable, at most ``top``
    per guide (without ``now``, by value alone)."""
    sql = SqlParams(Dialect.of(connection()))
    condition = extra + (f" AND g.userid = {sql.add(userid)}" if userid is not None else "")
    query = _OPEN_TASKS.format(until=_typed(sql, until), extra=condition, top=int(top),
                               now=_typed(sql, now if now is not None else until),
                               overdue=TASK_OVERDUE_URGENCY if now is not None else TASK_DUE_URGENCY,
                               due=TASK_DUE_URGENCY)
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in await connection().execute_query_dict(query, sql.values):
        grouped[str(row["userid"])].append(row)
    return grouped


def _today(deps: Deps) -> tuple[str, datetime, datetime]:
    now = deps.clock.now()
    day = now.astimezone(ZoneInfo(deps.settings.scrm_timezone)).date()
    start, end = day_bounds(day, deps.settings.scrm_timezone)
    return day.isoformat(), start, end


# The digest card's task list: WeCom shows a few lines of sub_title_text; the rest is one reply away.
_CARD_LIST_MAX_BYTES = 1200


def digest_card(
    templates: Templates, guide: Mapping[str, Any], items: list[dict[str, Any]], day: str, tz: str
) -> dict[str, Any]:
    total = int(items[0]["total"])
    return {
        "card_type": "button_interaction",
        "source": {"desc": templates.render("sop_digest_source")},
        "main_title": {
            "title": templates.render("sop_digest_title", count=total, date=day, guide_name=guide["guide_name"] or "")[
                :36
            ],
            "desc": day,
        },
        "sub_title_text": limits.fit(
            "\n".join(task_line(templates, row, tz) for row in items),
            _CARD_LIST_MAX_BYTES,
            templates.render("sop_more", count=total),
        ),
        "horizontal_content_list": [
            {"keyname": f"#{row['id']} {row['customer_name'] or templates.render('sop_customer_unnamed')}"[:10],
             "value": str(row["reason"])[:30]}
            for row in items[:6]
        ],
        "task_id": f"sopd-{day.replace('-', '')}-{guide['guide_id']}",
        "button_list": [
            {"text": templates.render("sop_done_button", task_id=row["id"])[:10], "style": 1,
             "key": f"{BUTTON_PREFIX}{row['id']}"}
            for row in items[:6]
        ],
    }


async def send_digests(deps: Deps) -> int:
    """Each guide with tasks due today (or overdue) gets one card: count, the top items, done buttons."""
    day, _start, end = _today(deps)
    tz = deps.settings.scrm_timezone
    sent = 0
    by_guide = await open_tasks_by_guide(end, deps.settings.scrm_sop_digest_top, now=deps.clock.now())
    for userid, items in by_guide.items():
        card = digest_card(deps.config.templates, items[0], items, day, tz)

        async def send(to: str = userid, body: dict[str, Any] = card) -> None:
            await deps.wecom.send_template_card([to], body)

        if await send_once_or_skip(f"sop-digest:{day}:{userid}", "sop_digest", userid, send, deps.clock):
            sent += 1
    log.info("sop_digests_sent", sent=sent, day=day)
    return sent


async def _claim(column: str, due_before: datetime, now: datetime, start: datetime) -> dict[str, list[dict[str, Any]]]:
    """Stamp ``column`` on the open tasks due before ``due_before`` (once each), and return every task
    stamped today by guide: a retried job re-reads what it claimed and the outbox skips what went out."""
    conn = connection()
    sql = SqlParams(Dialect.of(conn))
    when = _typed(sql, now)
    await conn.execute_query(
        f"UPDATE sop_task SET {column} = {when} WHERE status = 'open' AND {column} IS NULL "
        f"AND due_at < {_typed(sql, due_before)}",
        sql.values,
    )
    sql = SqlParams(Dialect.of(conn))
    extra = f" AND t.{column} >= {_typed(sql, start)}"
    query = _OPEN_TASKS.format(until=_typed(sql, now + timedelta(days=3650)), extra=extra, top=1000,
                               now=_typed(sql, now), overdue=TASK_OVERDUE_URGENCY, due=TASK_DUE_URGENCY)
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in await conn.execute_query_dict(query, sql.values):
        grouped[str(row["userid"])].append(row)
    return grouped


async def send_reminders(deps: Deps) -> int:
    """One reminder per overdue task: a text per guide listing them (sent once per guide and day)."""
    day, start, _end = _today(deps)
    now = deps.clock.now()
    claimed = await _claim("reminded_at", now, now, start)
    templates, tz = deps.config.templates, deps.settings.scrm_timezone
    sent = 0
    for userid, rows in claimed.items():
        text = templates.render(
            "sop_reminder",
            guide_name=rows[0]["guide_name"] or "",
            count=rows[0]["total"],
            items="\n".join(task_line(templates, r, tz) for r in rows[:10]),
        )
        # One text a guide reads at a glance: what does not fit is one 「待办」 away, named in the tail.
        text = limits.fit(text, limits.TEXT_MAX_BYTES, templates.render("sop_more", count=rows[0]["total"]))

        async def send(to: str = userid, body: str = text) -> None:
            await deps.wecom.send_text([to], body)

        if await send_once_or_skip(f"sop-remind:{day}:{userid}", "sop_reminder", userid, send, deps.clock):
            sent += 1
    log.info("sop_reminders_sent", sent=sent, day=day)
    return sent


async def send_escalations(deps: Deps) -> int:
    """Tasks overdue by more than a day: one summary per store manager, by guide, not one message each."""
    day, start, _end = _today(deps)
    now = deps.clock.now()
    claimed = await _claim("escalated_at", now - timedelta(days=1), now, start)
    if not claimed:
        return 0
    guides = {g.userid: g for g in await Guide.filter(userid__in=list(claimed)).prefetch_related("store")}
    by_store: dict[int, list[str]] = defaultdict(list)
    for userid, rows in claimed.items():
        guide = guides.get(userid)
        if guide is None or guide.store is None:
            log.info("sop_escalation_without_store", userid=userid, tasks=len(rows))
            continue
        oldest = min(r["due_at"] for r in rows)
        days = (now - oldest).days if isinstance(oldest, datetime) else 1
        by_store[guide.store.id].append(
            deps.config.templates.render("sop_escalation_line", name=guide.name or userid, count=rows[0]["total"],
                                         days=days)
        )
    sent = 0
    for store_id, lines in by_store.items():
        managers = await Guide.filter(store_id=store_id, role=Role.STORE_MANAGER, active=True).prefetch_related("store")
        for manager in managers:
            text = deps.config.templates.render(
                "sop_escalation",
                store_name=manager.store.name if manager.store else "",
                count=len(lines),
                items="\n".join(lines),
                guide_name=manager.name,
            )

            # A big store's summary goes out in parts: every guide's line reaches the manager.
            for index, part in enumerate(limits.split(text, limits.TEXT_MAX_BYTES)):

                async def send(to: str = manager.userid, body: str = part) -> None:
                    await deps.wecom.send_text([to], body)

                key = f"sop-escalate:{day}:{manager.userid}" + (f":{index}" if index else "")
                if await send_once_or_skip(key, "sop_escalation", manager.userid, send, deps.clock) and not index:
                    sent += 1
    log.info("sop_escalations_sent", sent=sent, stores=len(by_store))
    return sent


NOTICES: dict[str, Callable[[Deps], Awaitable[int]]] = {
    "digest": send_digests,
    "reminder": send_reminders,
    "escalation": send_escalations,
}


def _pending_key(deps: Deps) -> str:
    return f"{{{deps.settings.scrm_redis_prefix}}}:sop:pending"


async def notice(deps: Deps, kind: str) -> int | None:
    """Send notice ``kind`` now, or keep it pending when in quiet hours (None)."""
    if deps.settings.quiet_hours.holds(deps.clock.now(), deps.settings.scrm_timezone):
        await deps.redis.hset(_pending_key(deps), kind, deps.clock.now().isoformat())
        log.info("sop_notice_deferred", kind=kind, reason="quiet hours")
        return None
    return await NOTICES[kind](deps)


async def run_pending_notices(deps: Deps) -> list[str]:
    """Notices deferred by quiet hours go out at the first tick after them."""
    if deps.settings.quiet_hours.holds(deps.clock.now(), deps.settings.scrm_timezone):
        return []
    pending = await deps.redis.hkeys(_pending_key(deps))
    done = []
    for kind in sorted(pending):
        if kind in NOTICES:
            await NOTICES[kind](deps)
        await deps.redis.hdel(_pending_key(deps), kind)
        done.append(str(kind))
    return done
