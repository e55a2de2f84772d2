"""``rfm``: recency, frequency, monetary → the classic eight segments (one per customer).

A dimension is "high" when recency ≤ R days, orders ≥ F, spend ≥ M. In ``quantile`` mode the
thresholds are the customer base's own quantiles (default: the median), computed once per run;
F is high from two orders at the least.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.sqldialect import SqlParams, connection
from bot.templates import Templates
from customers.lifecycle import DEFAULT, Lifecycle
from tagging.kinds.base import NO_TEXTS, QueryContext, RuleError, number, rule_type

# (R high, F high, M high) → segment
SEGMENTS = {
    (1, 1, 1): "重要价值客户",
    (1, 0, 1): "重要发展客户",
    (0, 1, 1): "重要保持客户",
    (0, 0, 1): "重要挽留客户",
    (1, 1, 0): "一般价值客户",
    (1, 0, 0): "一般发展客户",
    (0, 1, 0): "一般保持客户",
    (0, 0, 0): "一般挽留客户",
}


TEMPLATES = ("why_rfm",)


@rule_type("rfm")
class RfmRule:
    """One of the eight RFM segments, by thresholds or by quantiles.

    ``mode: threshold, recency_days: 90, frequency: 3, monetary: 1000`` or ``mode: quantile, quantile: 0.5``"""

    def __init__(self, params: Mapping[str, Any], lifecycle: Lifecycle = DEFAULT,
                 templates: Templates = NO_TEXTS) -> None:
        self.templates = templates
        self.mode = params.get("mode", "threshold")
        if self.mode not in ("threshold", "quantile"):
            raise RuleError("mode must be threshold or quantile")
        if self.mode == "threshold":
            self.recency_days = number(params, "recency_days", minimum=1)
            self.frequency = number(params, "frequency", minimum=1)
            self.monetary = number(params, "monetary", minimum=0)
        else:
            self.quantile = number(params, "quantile", 0.5, minimum=0.01)
            if self.quantile >= 1:
                raise RuleError("quantile must be below 1")

    @property
    def tags(self) -> Sequence[str]:
        return list(SEGMENTS.values())

    async def prepare(self, ctx: QueryContext) -> None:
        if self.mode == "threshold":
            ctx.run_values["rfm"] = (self.recency_days, self.frequency, self.monetary)
            return
        conn = connection()
        rows = await conn.execute_query_dict("SELECT COUNT(*) AS n FROM customer WHERE order_count > 0")
        count = int(rows[0]["n"])
        if count == 0:
            ctx.run_values["rfm"] = (0.0, 1.0, 0.0)
            return
        # Recency: "high" is the recent side, so its threshold is the (1 - q) quantile of days.
        offset = int(count * self.quantile)
        values = []
        spent = ctx.dialect.number("total_spent")
        for column, order in (("last_purchase_at", "DESC"), ("order_count", "ASC"), (spent, "ASC")):
            sql = (
                f"SELECT {column} AS v FROM customer WHERE order_count > 0 "
                f"ORDER BY {column} {order} LIMIT 1 OFFSET {offset}"
            )
            values.append((await conn.execute_query_dict(sql))[0]["v"])
        last_at, orders, spent = values
        recency = max(0.0, (ctx.now - _aware(last_at)).total_seconds() / 86400)
        # Most customers have one order, so the median of F is 1: one order is never "frequent".
        ctx.run_values["rfm"] = (recency, max(2.0, float(orders)), float(spent))

    def select(self, ctx: QueryContext, params: SqlParams) -> str:
        recency, frequency, monetary = ctx.run_values["rfm"]
        marks = [params.add(ctx.now), params.add(recency), params.add(frequency), params.add(monetary)]
        days = ctx.dialect.days_since(marks[0], "c.last_purchase_at")
        cases = " ".join(f"WHEN {r * 4 + f * 2 + m} THEN '{name}'" for (r, f, m), name in SEGMENTS.items())
        evidence = ctx.dialect.json_object(
            ("R", "ROUND(t.days)"),
            ("F", "t.order_count"),
            ("M", "t.total_spent"),
            ("R_high", "t.rh"),
            ("F_high", "t.fh"),
            ("M_high", "t.mh"),
        )
        return (
            f"SELECT t.id AS customer_id, CASE t.rh * 4 + t.fh * 2 + t.mh {cases} END AS tag, {evidence} AS evidence "
            f"FROM (SELECT c.id, c.order_count, {ctx.dialect.number('c.total_spent')} AS total_spent, {days} AS days, "
            f"CASE WHEN {days} <= {marks[1]} THEN 1 ELSE 0 END AS rh, "
            f"CASE WHEN c.order_count >= {marks[2]} THEN 1 ELSE 0 END AS fh, "
            f"CASE WHEN {ctx.dialect.number('c.total_spent')} >= {marks[3]} THEN 1 ELSE 0 END AS mh "
            f"FROM customer c WHERE c.order_count > 0 AND c.last_purchase_at IS NOT NULL{ctx.scope('c.id')}) t"
        )

    def explain(self, tag: str, evidence: Mapping[str, Any]) -> str:
        spent = float(evidence.get("M") or 0)
        return self.templates.render("why_rfm", recency=f"{float(evidence.get('R') or 0):.0f}",
                                     frequency=evidence.get("F"), monetary=f"{spent:,.0f}", tag=tag)


def _aware(value: Any) -> Any:
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
