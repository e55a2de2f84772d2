"""``lifecycle``: one stage per customer, by precedence (customers/lifecycle.py ``PRECEDENCE``):
已流失 > 沉睡 > 流失风险 > 活跃 > 复购 > 首购 > 新客.

- 已流失: the customer deleted every guide who had them (none left).
- 沉睡: bought before, nothing for ``dormant_days`` (default 180).
- 流失风险: two or more orders, and the gap since the last is past ``churn_factor`` × their own
  purchase cycle (mean days between orders; default factor 2).
- 活跃: two or more orders, the last within ``active_days`` (default 30).
- 复购: two or more orders; 首购: exactly one; 新客: added, no order yet.

The three thresholds set on this rule are the ones every feature shares (leads' 沉睡 wake-up, the
boards' 唤醒沉睡, the prediction rule's ``dormant_top``): the loader reads them with ``thresholds``
before it builds any rule, and hands them to each rule type as ``lifecycle``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.sqldialect import SqlParams
from bot.templates import Templates
from customers.lifecycle import ACTIVE, CHURN_RISK, DEFAULT, DORMANT, FIRST, LOST, NEW, PRECEDENCE, REPEAT, Lifecycle
from tagging.kinds.base import NO_TEXTS, QueryContext, RuleBase, number, rule_type

NAME = "lifecycle"  # the rule type whose parameters set the thresholds every feature shares
THRESHOLDS = ("dormant_days", "active_days", "churn_factor")


def thresholds(params: Mapping[str, Any]) -> Lifecycle:
    """The thresholds a lifecycle rule's parameters set (RuleError for a wrong one)."""
    return Lifecycle(
        dormant_days=number(params, "dormant_days", DEFAULT.dormant_days, minimum=1),
        active_days=number(params, "active_days", DEFAULT.active_days, minimum=1),
        churn_factor=number(params, "churn_factor", DEFAULT.churn_factor, minimum=1),
    )


# The reason each stage gives, by its template id.
_REASONS = {LOST: "why_lifecycle_lost", DORMANT: "why_lifecycle_dormant", CHURN_RISK: "why_lifecycle_churn_risk",
            ACTIVE: "why_lifecycle_active", REPEAT: "why_lifecycle_repeat", FIRST: "why_lifecycle_first",
            NEW: "why_lifecycle_new"}
TEMPLATES = ("why_lifecycle", *_REASONS.values())


@rule_type(NAME)
class LifecycleRule(RuleBase):
    """The customer's lifecycle stage (customers/lifecycle.py), one tag of an exclusive group.

    ``dormant_days: 180, active_days: 30, churn_factor: 2``"""

    def __init__(self, params: Mapping[str, Any], lifecycle: Lifecycle = DEFAULT,
                 templates: Templates = NO_TEXTS) -> None:
        self.templates = templates
        # ``lifecycle`` is what ``thresholds(params)`` read (the loader checked they agree).
        self.lifecycle = lifecycle

    @property
    def dormant_days(self) -> float:
        return self.lifecycle.dormant_days

    @property
    def active_days(self) -> float:
        return self.lifecycle.active_days

    @property
    def churn_factor(self) -> float:
        return self.lifecycle.churn_factor

    @property
    def tags(self) -> Sequence[str]:
        return list(PRECEDENCE)

    def select(self, ctx: QueryContext, params: SqlParams) -> str:
        now, dormant = params.add(ctx.now), params.add(self.dormant_days)
        active, factor = params.add(self.active_days), params.add(self.churn_factor)
        days = ctx.dialect.days_since(now, "c.last_purchase_at")
        # One pass over relationships (grouped), not two correlated lookups per customer.
        relations = (
            "SELECT r.customer_id, SUM(CASE WHEN r.deleted_by_customer_at IS NULL AND r.deleted_by_guide_at IS NULL "
            "THEN 1 ELSE 0 END) AS active_n, SUM(CASE WHEN r.deleted_by_customer_at IS NOT NULL THEN 1 ELSE 0 END) "
            f"AS lost_n FROM relationship r WHERE 1 = 1{ctx.scope('r.customer_id')} GROUP BY r.customer_id"
        )
        lost = "COALESCE(rs.active_n, 0) = 0 AND COALESCE(rs.lost_n, 0) > 0"
        stage = (
            f"CASE WHEN {lost} THEN '{LOST}' "
            f"WHEN c.order_count >= 1 AND {days} >= {dormant} THEN '{DORMANT}' "
            f"WHEN c.order_count >= 2 AND c.purchase_cycle_days IS NOT NULL "
            f"AND {days} > {factor} * c.purchase_cycle_days THEN '{CHURN_RISK}' "
            f"WHEN c.order_count >= 2 AND {days} <= {active} THEN '{ACTIVE}' "
            f"WHEN c.order_count >= 2 THEN '{REPEAT}' "
            f"WHEN c.order_count = 1 THEN '{FIRST}' ELSE '{NEW}' END"
        )
        evidence = ctx.dialect.json_object(
            ("days", f"CASE WHEN c.last_purchase_at IS NULL THEN NULL ELSE ROUND({days}) END"),
            ("orders", "c.order_count"),
            ("cycle", "ROUND(c.purchase_cycle_days)"),
        )
        return (
            f"SELECT c.id AS customer_id, {stage} AS tag, {evidence} AS evidence FROM customer c "
            f"LEFT JOIN ({relations}) rs ON rs.customer_id = c.id WHERE 1 = 1{ctx.scope('c.id')}"
        )

    def explain(self, tag: str, evidence: Mapping[str, Any]) -> str:
        days, orders, cycle = evidence.get("days"), evidence.get("orders"), evidence.get("cycle")
        template = _REASONS.get(tag)
        # The stages that count days say nothing without them (a customer who never bought).
        if template is None or (days is None and tag in (DORMANT, CHURN_RISK, ACTIVE)):
            why = ""
        else:
            limit = {DORMANT: self.dormant_days, ACTIVE: self.active_days}.get(tag, 0)
            why = self.templates.render(
                template, days="" if days is None else f"{days:.0f}", orders=orders, cycle=cycle,
                threshold=f"{limit:g}", factor=f"{self.churn_factor:g}",
            )
        return self.templates.render("why_lifecycle", why=why, tag=tag)
