"""``lifecycle``: one stage per customer, by precedence:
已流失 > 沉睡 > 流失风险 > 活跃 > 复购 > 首购 > 新客.

- 已流失: the customer deleted every guide who had them (none left).
- 沉睡: bought before, nothing for ``dormant_days`` (default 180).
- 流失风险: two or more orders, and the gap since the last is past ``churn_factor`` × their own
  purchase cycle (mean days between orders; default factor 2).
- 活跃: two or more orders, the last within ``active_days`` (default 30).
- 复购: two or more orders; 首购: exactly one; 新客: added, no order yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tagging.registry import QueryContext, rule_type
from tagging.types.base import RuleBase, number

STAGES = ["已流失", "沉睡", "流失风险", "活跃", "复购", "首购", "新客"]


@rule_type("lifecycle")
class LifecycleRule(RuleBase):
    def __init__(self, params: Mapping[str, Any]) -> None:
        self.dormant_days = number(params, "dormant_days", 180, minimum=1)
        self.active_days = number(params, "active_days", 30, minimum=1)
        self.churn_factor = number(params, "churn_factor", 2.0, minimum=1)

    @property
    def tags(self) -> Sequence[str]:
        return STAGES

    def select(self, ctx: QueryContext) -> tuple[str, list[Any]]:
        now, dormant, active, factor = ctx.placeholders(4)
        days = ctx.dialect.days_since(now, "c.last_purchase_at")
        # One pass over relationships (grouped), not two correlated lookups per customer.
        relations = (
            "SELECT r.customer_id, SUM(CASE WHEN r.deleted_by_customer_at IS NULL AND r.deleted_by_guide_at IS NULL "
            "THEN 1 ELSE 0 END) AS active_n, SUM(CASE WHEN r.deleted_by_customer_at IS NOT NULL THEN 1 ELSE 0 END) "
            f"AS lost_n FROM relationship r WHERE 1 = 1{ctx.scope('r.customer_id')} GROUP BY r.customer_id"
        )
        lost = "COALESCE(rs.active_n, 0) = 0 AND COALESCE(rs.lost_n, 0) > 0"
        stage = (
            f"CASE WHEN {lost} THEN '已流失' "
            f"WHEN c.order_count >= 1 AND {days} >= {dormant} THEN '沉睡' "
            f"WHEN c.order_count >= 2 AND c.purchase_cycle_days IS NOT NULL "
            f"AND {days} > {factor} * c.purchase_cycle_days THEN '流失风险' "
            f"WHEN c.order_count >= 2 AND {days} <= {active} THEN '活跃' "
            f"WHEN c.order_count >= 2 THEN '复购' "
            f"WHEN c.order_count = 1 THEN '首购' ELSE '新客' END"
        )
        evidence = ctx.dialect.json_object(
            ("days", f"CASE WHEN c.last_purchase_at IS NULL THEN NULL ELSE ROUND({days}) END"),
            ("orders", "c.order_count"),
            ("cycle", "ROUND(c.purchase_cycle_days)"),
        )
        sql = (
            f"SELECT c.id AS customer_id, {stage} AS tag, {evidence} AS evidence FROM customer c "
            f"LEFT JOIN ({relations}) rs ON rs.customer_id = c.id WHERE 1 = 1{ctx.scope('c.id')}"
        )
        return sql, [ctx.dialect.time(ctx.now), self.dormant_days, self.active_days, self.churn_factor]

    def explain(self, tag: str, evidence: Mapping[str, Any]) -> str:
        days, orders, cycle = evidence.get("days"), evidence.get("orders"), evidence.get("cycle")
        reasons = {
            "已流失": "客户已删除所有导购",
            "沉睡": f"{days:.0f}天未购买（≥{self.dormant_days:g}天）" if days is not None else "",
            "流失风险": f"距上次购买{days:.0f}天，超过其购买周期{cycle}天的{self.churn_factor:g}倍"
            if days is not None
            else "",
            "活跃": f"{orders}单，最近{days:.0f}天内购买（≤{self.active_days:g}天）" if days is not None else "",
            "复购": f"累计{orders}单",
            "首购": "已有首单",
            "新客": "已添加，尚未下单",
        }
        return f"{reasons.get(tag, '')} → {tag}"
