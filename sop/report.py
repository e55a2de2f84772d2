"""Execution rate (due, done, done on time) per guide, store or playbook; each playbook's lift:
conversion of treated customers against its holdout, with a 95% confidence interval; and the
board metric the leaderboards rank guides by (``sop_execution_rate``); and each moment step's occurrences: who
published and how many customers could see it (guides' moment execution is the board metric
``moment_execution_rate``, campaigns/report.py, which counts the SOP's moments too)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from boards.kinds import MetricQuery, metric
from bot.sqldialect import Dialect, SqlParams, connection
from sop.config import PlaybookSet
from sop.engine import add_days

__all__ = [
    "DeliveredRow", "ExecutionRow", "LiftRow", "MomentGuideRow", "MomentStepRow", "delivered_steps", "execution_rate",
    "format_delivered", "format_execution", "format_lift", "format_moments", "lift", "moment_steps",
    "sop_execution_rate",
]

GroupBy = Literal["guide", "store", "playbook"]
_KEYS = {"guide": "COALESCE(NULLIF(g.name, ''), g.userid)", "store": "COALESCE(s.name, '-')", "playbook": "t.playbook"}


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    key: str
    due: int
    done: int
    on_time: int

    @property
    def rate(self) -> float:
        return self.done / self.due if self.due else 0.0

    @property
    def on_time_rate(self) -> float:
        return self.on_time / self.due if self.due else 0.0


def _ts(sql: SqlParams, value: datetime) -> str:
    placeholder = sql.add(value)
    return f"CAST({placeholder} AS TIMESTAMPTZ)" if sql.dialect.name == "postgres" else placeholder


async def execution_rate(since: datetime, until: datetime, by: GroupBy = "guide") -> list[ExecutionRow]:
    """Tasks due in [since, until) (holdout rows aside): how many done, and done within a day of due."""
    conn = connection()
    sql = SqlParams(Dialect.of(conn))
    on_time = add_days(sql.dialect, "t.due_at", 1)
    rows = await conn.execute_query_dict(
        f"SELECT {_KEYS[by]} AS k, COUNT(*) AS due, "
        "SUM(CASE WHEN t.status = 'done' THEN 1 ELSE 0 END) AS done, "
        f"SUM(CASE WHEN t.status = 'done' AND t.done_at <= {on_time} THEN 1 ELSE 0 END) AS on_time "
        "FROM sop_task t JOIN guide g ON g.id = t.guide_id LEFT JOIN store s ON s.id = g.store_id "
        f"WHERE t.status <> 'control' AND t.due_at >= {_ts(sql, since)} AND t.due_at < {_ts(sql, until)} "
        "GROUP BY 1 ORDER BY 1",
        sql.values,
    )
    return [ExecutionRow(str(r["k"]), int(r["due"]), int(r["done"] or 0), int(r["on_time"] or 0)) for r in rows]


@dataclass(frozen=True, slots=True)
class LiftRow:
    playbook: str
    name: str
    window_days: int
    treated: int
    treated_converted: int
    control: int
    control_converted: int

    @property
    def treated_rate(self) -> float:
        return self.treated_converted / self.treated if self.treated else 0.0

    @property
    def control_rate(self) -> float:
        return self.control_converted / self.control if self.control else 0.0

    @property
    def lift(self) -> float:
        return self.treated_rate - self.control_rate

    def interval(self, z: float = 1.96) -> tuple[float, float] | None:
        """95% CI of the difference (Wald); None when an arm is empty."""
        if not self.treated or not self.control:
            return None
        p1, p2 = self.treated_rate, self.control_rate
        se = math.sqrt(p1 * (1 - p1) / self.treated + p2 * (1 - p2) / self.control)
        return self.lift - z * se, self.lift + z * se


# A mass step's task is delivered when WeCom says its campaign (campaigns/) reached the customer.
_DELIVERED = (
    "EXISTS (SELECT 1 FROM campaign_target ct JOIN campaign c ON c.id = ct.campaign_id WHERE c.playbook = t.playbook "
    "AND c.step = t.step AND ct.customer_id = t.customer_id AND ct.status = 'sent')"
)


async def lift(playbooks: PlaybookSet, now: datetime) -> list[LiftRow]:
    """Per playbook with a holdout: customers exposed at its first step, converted = an order
    within ``lift_window_days`` after the step was due. Recent exposures are still maturing.
    When the first step is a mass message, the treated are the customers it was delivered to (WeCom's
    results), not every customer it was planned for."""
    conn = connection()
    out: list[LiftRow] = []
    for playbook in playbooks.playbooks:
        sql = SqlParams(Dialect.of(conn))
        window_end = add_days(sql.dialect, "t.due_at", playbook.lift_window_days)
        first = playbook.steps[0]
        delivered = f" AND (t.status = 'control' OR {_DELIVERED})" if first.action == "mass" else ""
        rows = await conn.execute_query_dict(
            "SELECT CASE WHEN t.status = 'control' THEN 'control' ELSE 'treated' END AS arm, COUNT(*) AS n, "
            "SUM(CASE WHEN EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = t.customer_id "
            f"AND o.paid_at > t.due_at AND o.paid_at <= {window_end}) THEN 1 ELSE 0 END) AS converted "
            f"FROM sop_task t WHERE t.playbook = {sql.add(playbook.id)} AND t.step = {sql.add(first.id)} "
            f"AND t.due_at <= {_ts(sql, now)}{delivered} GROUP BY 1",
            sql.values,
        )
        arms = {str(r["arm"]): (int(r["n"]), int(r["converted"] or 0)) for r in rows}
        treated, control = arms.get("treated", (0, 0)), arms.get("control", (0, 0))
        if playbook.holdout_pct or control[0]:
            out.append(LiftRow(playbook.id, playbook.name, playbook.lift_window_days, *treated, *control))
    return out


@dataclass(frozen=True, slots=True)
class DeliveredRow:
    playbook: str
    step: str
    planned: int  # mass tasks due (holdout rows aside)
    prepared: int  # made into a WeCom task for the guide to confirm
    delivered: int  # WeCom says the customer received it


async def delivered_steps(since: datetime, until: datetime) -> list[DeliveredRow]:
    """Mass steps due in [since, until): planned, prepared as WeCom tasks, delivered to the customer."""
    conn = connection()
    sql = SqlParams(Dialect.of(conn))
    rows = await conn.execute_query_dict(
        "SELECT t.playbook, t.step, COUNT(*) AS planned, "
        "SUM(CASE WHEN t.prepared_at IS NOT NULL THEN 1 ELSE 0 END) AS prepared, "
        f"SUM(CASE WHEN {_DELIVERED} THEN 1 ELSE 0 END) AS delivered FROM sop_task t "
        f"WHERE t.action = 'mass' AND t.status <> 'control' AND t.due_at >= {_ts(sql, since)} "
        f"AND t.due_at < {_ts(sql, until)} GROUP BY 1, 2 ORDER BY 1, 2",
        sql.values,
    )
    return [DeliveredRow(str(r["playbook"]), str(r["step"]), int(r["planned"]), int(r["prepared"] or 0),
                         int(r["delivered"] or 0)) for r in rows]


@dataclass(frozen=True, slots=True)
class MomentGuideRow:
    userid: str
    published: bool
    customers: int  # who could see what they published (get_moment_send_result)
    likes: int
    comments: int


@dataclass(slots=True)
class MomentStepRow:
    """One occurrence of a moment step: its moment and, as last synced, each guide asked to publish it."""

    playbook: str
    step: str
    occurrence: str  # the anchor day
    detail: str  # what the day is (周一, a holiday)
    due_at: datetime
    moment: str  # the moment's name ("" while not prepared, or refused)
    error: str  # why it was not prepared
    synced: bool
    guides: list[MomentGuideRow] = field(default_factory=list)

    @property
    def published(self) -> list[str]:
        return [g.userid for g in self.guides if g.published]

    @property
    def customers(self) -> int:
        return sum(g.customers for g in self.guides)

    def as_json(self) -> dict[str, Any]:
        return {
            "playbook": self.playbook, "step": self.step, "occurrence": self.occurrence, "detail": self.detail,
            "due_at": self.due_at.isoformat(), "moment": self.moment, "error": self.error,
            "asked": len(self.guides), "published": len(self.published), "customers": self.customers,
            "guides": [{"userid": g.userid, "published": g.published, "customers": g.customers, "likes": g.likes,
                        "comments": g.comments} for g in self.guides],
        }


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))  # SQLite returns the stored text
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def moment_steps(since: datetime, until: datetime) -> list[MomentStepRow]:
    """The moment steps' occurrences due in [since, until): who was asked, who published, how many customers
    could see each guide's post (the moments' last sync)."""
    conn = connection()
    sql = SqlParams(Dialect.of(conn))
    rows = await conn.execute_query_dict(
        "SELECT o.id, o.playbook, o.step, o.occurrence, o.detail, o.due_at, o.error, m.name, m.synced_at, "
        "mg.userid, mg.published, mg.customers, mg.likes, mg.comments FROM sop_occurrence o "
        "LEFT JOIN moment m ON m.id = o.moment_id LEFT JOIN moment_guide mg ON mg.moment_id = m.id "
        f"WHERE o.due_at >= {_ts(sql, since)} AND o.due_at < {_ts(sql, until)} "
        "ORDER BY o.playbook, o.step, o.due_at, o.id, mg.userid",
        sql.values,
    )
    out: dict[int, MomentStepRow] = {}
    for r in rows:
        row = out.get(int(r["id"]))
        if row is None:
            row = out[int(r["id"])] = MomentStepRow(
                str(r["playbook"]), str(r["step"]), str(r["occurrence"]), str(r["detail"]), _when(r["due_at"]),
                str(r["name"] or ""), str(r["error"] or ""), r["synced_at"] is not None)
        if r["userid"] is not None:
            row.guides.append(MomentGuideRow(str(r["userid"]), bool(r["published"]), int(r["customers"] or 0),
                                             int(r["likes"] or 0), int(r["comments"] or 0)))
    return list(out.values())


def format_moments(rows: list[MomentStepRow]) -> list[str]:
    lines = [f"{'moment step':<30} {'day':<10} {'asked':>6} {'published':>10} {'customers':>10}"]
    for r in rows:
        lines.append(f"{r.playbook + '/' + r.step:<30} {r.occurrence:<10} {len(r.guides):>6} "
                     f"{len(r.published):>10} {r.customers:>10}")
        if r.error:
            lines.append(f"  not sent: {r.error}")
        elif not r.moment:
            lines.append("  not prepared yet")
        else:
            published = ", ".join(f"{g.userid} ({g.customers})" for g in r.guides if g.published) or "-"
            waiting = ", ".join(g.userid for g in r.guides if not g.published) or "-"
            lines.append(f"  published by: {published}; not yet: {waiting}"
                         + ("" if r.synced else " (not synced yet)"))
    return lines


def format_delivered(rows: list[DeliveredRow]) -> list[str]:
    lines = [f"{'mass step':<30} {'planned':>8} {'prepared':>9} {'delivered':>10}"]
    for r in rows:
        lines.append(f"{r.playbook + '/' + r.step:<30} {r.planned:>8} {r.prepared:>9} {r.delivered:>10}")
    return lines


def format_execution(rows: list[ExecutionRow], by: str) -> list[str]:
    lines = [f"{by:<16} {'due':>6} {'done':>6} {'on time':>8} {'rate':>6} {'on-time':>8}"]
    for r in rows:
        lines.append(f"{r.key:<16} {r.due:>6} {r.done:>6} {r.on_time:>8} {r.rate:>6.0%} {r.on_time_rate:>8.0%}")
    return lines


def format_lift(rows: list[LiftRow]) -> list[str]:
    lines = [f"{'playbook':<22} {'treated':>14} {'control':>14} {'lift':>8}  95% CI"]
    for r in rows:
        ci = r.interval()
        ci_text = f"[{ci[0]:+.1%}, {ci[1]:+.1%}]" if ci else "n/a (an arm is empty)"
        lines.append(
            f"{r.name + ' (' + str(r.window_days) + '天)':<22} "
            f"{f'{r.treated_converted}/{r.treated} {r.treated_rate:.0%}':>14} "
            f"{f'{r.control_converted}/{r.control} {r.control_rate:.0%}':>14} {r.lift:>+8.1%}  {ci_text}"
        )
    return lines


@metric("sop_execution_rate", label="SOP执行率", percent=True)
def sop_execution_rate(q: MetricQuery) -> str:
    """Of the tasks due in the period (holdout rows excluded), the share done."""
    return (
        f"SELECT {q.key} AS k, 1.0 * SUM(CASE WHEN t.status = 'done' THEN 1 ELSE 0 END) / COUNT(*) AS v "
        f"FROM sop_task t JOIN guide g ON g.id = t.guide_id "
        f"WHERE t.status <> 'control' AND t.due_at >= {q.start} AND t.due_at < {q.end} GROUP BY {q.key}"
    )
