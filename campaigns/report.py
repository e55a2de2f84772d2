"""A campaign's figures: per guide — targeted, sent, unsent, not a friend, over the limit — and conversions (an
order within the campaign's window) of the customers it reached against the holdout, with a 95% interval; and the
board metric of guides' execution (their pushes sent within 24 h)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from boards.kinds import MetricQuery, metric
from bot.sqldialect import Dialect, SqlParams, connection
from campaigns.audience import typed
from campaigns.models import Campaign, Moment, MomentGuide

__all__ = ["ArmFigures", "CampaignReport", "GuideRow", "campaign_execution_rate", "campaign_report", "format_report",
           "moment_execution_rate", "moment_report"]


@dataclass(frozen=True, slots=True)
class GuideRow:
    userid: str
    targeted: int
    sent: int
    unsent: int
    not_friend: int
    over_limit: int


@dataclass(frozen=True, slots=True)
class ArmFigures:
    customers: int
    converted: int

    @property
    def rate(self) -> float:
        return self.converted / self.customers if self.customers else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"customers": self.customers, "converted": self.converted, "rate": round(self.rate, 4)}


@dataclass(frozen=True, slots=True)
class CampaignReport:
    campaign: Campaign
    guides: list[GuideRow]
    holdout: int
    capped: int
    delivered: ArmFigures  # customers it reached (WeCom: sent)
    control: ArmFigures  # the holdout
    window_end: datetime | None

    @property
    def lift(self) -> float:
        return self.delivered.rate - self.control.rate

    def interval(self, z: float = 1.96) -> tuple[float, float] | None:
        """95% CI of the difference of the two rates (Wald); None while an arm is empty."""
        if not self.delivered.customers or not self.control.customers:
            return None
        p1, p2 = self.delivered.rate, self.control.rate
        se = math.sqrt(p1 * (1 - p1) / self.delivered.customers + p2 * (1 - p2) / self.control.customers)
        return self.lift - z * se, self.lift + z * se

    def as_json(self) -> dict[str, Any]:
        ci = self.interval()
        return {
            "campaign": self.campaign.name,
            "sent_at": self.campaign.sent_at.isoformat() if self.campaign.sent_at else None,
            "cancelled": self.campaign.cancelled_at is not None,
            "guides": [
                {"userid": g.userid, "targeted": g.targeted, "sent": g.sent, "unsent": g.unsent,
                 "not_friend": g.not_friend, "over_limit": g.over_limit}
                for g in self.guides
            ],
            "holdout": self.holdout,
            "capped": self.capped,
            "conversions": {
                "window_days": self.campaign.window_days,
                "window_end": self.window_end.isoformat() if self.window_end else None,
                "delivered": self.delivered.as_json(),
                "holdout": self.control.as_json(),
                "lift": round(self.lift, 4),
                "ci95": [round(ci[0], 4), round(ci[1], 4)] if ci else None,
            },
        }


async def campaign_report(campaign: Campaign) -> CampaignReport:
    conn = connection()
    sql = SqlParams(Dialect.of(conn))
    rows = await conn.execute_query_dict(
        "SELECT g.userid, t.arm, t.status, COUNT(*) AS n FROM campaign_target t "
        f"LEFT JOIN guide g ON g.id = t.guide_id WHERE t.campaign_id = {sql.add(campaign.id)} GROUP BY 1, 2, 3",
        sql.values,
    )
    counts: dict[str, dict[str, int]] = {}
    holdout = capped = 0
    for row in rows:
        n = int(row["n"])
        if row["arm"] == "holdout":
            holdout += n
        elif row["arm"] == "capped":
            capped += n
        else:
            counts.setdefault(str(row["userid"]), {})[str(row["status"])] = n
    guides = [
        GuideRow(userid, sum(c.values()), c.get("sent", 0), c.get("planned", 0) + c.get("unsent", 0),
                 c.get("not_friend", 0), c.get("over_limit", 0))
        for userid, c in sorted(counts.items())
    ]
    delivered, control, window_end = ArmFigures(0, 0), ArmFigures(0, 0), None
    if campaign.sent_at is not None:
        window_end = campaign.sent_at + timedelta(days=campaign.window_days)
        delivered = await _converted(campaign, window_end, "t.arm = 'treated' AND t.status = 'sent'")
        control = await _converted(campaign, window_end, "t.arm = 'holdout'")
    return CampaignReport(campaign, guides, holdout, capped, delivered, control, window_end)


async def _converted(campaign: Campaign, window_end: datetime, arm: str) -> ArmFigures:
    assert campaign.sent_at is not None
    conn = connection()
    sql = SqlParams(Dialect.of(conn))
    start = typed(sql, campaign.sent_at)
    end = typed(sql, window_end)
    rows = await conn.execute_query_dict(
        "SELECT COUNT(*) AS n, SUM(CASE WHEN EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = t.customer_id "
        f"AND o.paid_at > {start} AND o.paid_at <= {end}) THEN 1 ELSE 0 END) AS converted FROM campaign_target t "
        f"WHERE t.campaign_id = {sql.add(campaign.id)} AND {arm}",
        sql.values,
    )
    return ArmFigures(int(rows[0]["n"] or 0), int(rows[0]["converted"] or 0))


def format_report(report: CampaignReport) -> list[str]:
    lines = [f"campaign {report.campaign.name}"
             + (" (cancelled)" if report.campaign.cancelled_at else ""),
             f"{'guide':<20} {'targeted':>8} {'sent':>6} {'unsent':>7} {'not friend':>10} {'over limit':>10}"]
    for g in report.guides:
        lines.append(f"{g.userid:<20} {g.targeted:>8} {g.sent:>6} {g.unsent:>7} {g.not_friend:>10} {g.over_limit:>10}")
    lines.append(f"holdout {report.holdout}, at the frequency cap (not targeted) {report.capped}")
    ci = report.interval()
    ci_text = f"[{ci[0]:+.1%}, {ci[1]:+.1%}]" if ci else "n/a (an arm is empty)"
    lines.append(
        f"conversions within {report.campaign.window_days} days: delivered {report.delivered.converted}/"
        f"{report.delivered.customers} {report.delivered.rate:.1%}, holdout {report.control.converted}/"
        f"{report.control.customers} {report.control.rate:.1%}, lift {report.lift:+.1%} 95% CI {ci_text}"
    )
    return lines


async def moment_report(moment: Moment) -> dict[str, Any]:
    """Who published and how many customers could see it, from the last sync."""
    rows = await MomentGuide.filter(moment_id=moment.id).order_by("userid")
    return {
        "moment": moment.name,
        "moment_id": moment.moment_id,
        "guides": [{"userid": g.userid, "published": g.published, "customers": g.customers, "likes": g.likes,
                    "comments": g.comments} for g in rows],
        "published": sum(1 for g in rows if g.published),
        "customers": sum(g.customers for g in rows),
    }


def _within_a_day(dialect: Dialect, sent: str, created: str) -> str:
    if dialect.name == "postgres":
        return f"{sent} <= {created} + INTERVAL '1 day'"
    return f"julianday({sent}) - julianday({created}) <= 1.0"


@metric("campaign_execution_rate", label="群发执行率", percent=True)
def campaign_execution_rate(q: MetricQuery) -> str:
    """Of the mass-send tasks a guide was given in the period, the share they sent within 24 hours."""
    on_time = _within_a_day(q.dialect, "k.send_time", "k.created_at")
    return (
        f"SELECT {q.key} AS k, 1.0 * SUM(CASE WHEN k.send_time IS NOT NULL AND {on_time} THEN 1 ELSE 0 END) "
        "/ COUNT(*) AS v FROM campaign_task k JOIN guide g ON g.userid = k.sender "
        f"WHERE k.created_at >= {q.start} AND k.created_at < {q.end} GROUP BY {q.key}"
    )


@metric("moment_execution_rate", label="朋友圈执行率", percent=True)
def moment_execution_rate(q: MetricQuery) -> str:
    """Of the moments a guide was asked to publish in the period, the share they published (as last synced)."""
    return (
        f"SELECT {q.key} AS k, 1.0 * SUM(CASE WHEN mg.published THEN 1 ELSE 0 END) / COUNT(*) AS v "
        "FROM moment_guide mg JOIN moment m ON m.id = mg.moment_id JOIN guide g ON g.userid = mg.userid "
        f"WHERE m.created_at >= {q.start} AND m.created_at < {q.end} GROUP BY {q.key}"
    )
