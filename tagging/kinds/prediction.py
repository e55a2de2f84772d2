"""``prediction``: tags from the nightly purchase predictions (``predict/``, table customer_prediction).

- ``mode: top``: the best ``top_pct`` percent by the product's ranking (the model where it won the
  brand's back-test, else RFM), e.g. 高潜复购 —「预计90天内购买概率 62%（前8%）」.
- ``mode: dormant_top``: among customers with no purchase for the lifecycle's ``dormant_days`` (沉睡,
  set on the lifecycle rule: customers/lifecycle.py), the ``top_pct`` percent most likely to buy
  within 90 days, e.g. 唤醒潜力: the reactivation playbook's audience, so guides wake those who are
  likely to come back.
- ``mode: alive_drop``: frequent buyers (``min_orders``) whose P(alive) fell by ``min_drop`` or more
  since just after their last purchase and is now below ``below``, e.g. 流失预警.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.sqldialect import SqlParams
from bot.templates import Templates
from customers.lifecycle import DEFAULT, Lifecycle
from tagging.kinds.base import NO_TEXTS, QueryContext, RuleBase, RuleError, number, rule_type, text

TEMPLATES = ("why_prediction_dormant_top", "why_prediction_top", "why_prediction_alive_drop")


@rule_type("prediction")
class PredictionRule(RuleBase):
    """A tag from the nightly purchase predictions (top, dormant_top or alive_drop).

    ``mode: top, top_pct: 10, tag: 高潜复购`` or ``mode: alive_drop, min_orders: 3, min_drop: 0.2, below: 0.6``"""

    def __init__(self, params: Mapping[str, Any], lifecycle: Lifecycle = DEFAULT,
                 templates: Templates = NO_TEXTS) -> None:
        self.templates = templates
        self.mode = params.get("mode", "top")
        if self.mode not in ("top", "dormant_top", "alive_drop"):
            raise RuleError("mode must be top, dormant_top or alive_drop")
        self.tag = text(params, "tag")
        self.top_pct = number(params, "top_pct", 10, minimum=0.1)
        self.min_orders = int(number(params, "min_orders", 3, minimum=1))
        self.min_drop = number(params, "min_drop", 0.2, minimum=0)
        self.below = number(params, "below", 0.6, minimum=0)
        self.dormant_days = lifecycle.dormant_days

    @property
    def tags(self) -> Sequence[str]:
        return [self.tag]

    def select(self, ctx: QueryContext, params: SqlParams) -> str:
        evidence = ctx.dialect.json_object(
            ("p90", "p.p_buy_90"), ("rank", "p.rank_pct"), ("alive", "p.p_alive"),
            ("alive_peak", "p.p_alive_peak"), ("orders", "c.order_count"),
        )
        if self.mode == "dormant_top":
            return self._dormant_top(ctx, params, evidence)
        base = (
            f"SELECT p.customer_id, {params.add(self.tag)} AS tag, {evidence} AS evidence "
            f"FROM customer_prediction p JOIN customer c ON c.id = p.customer_id WHERE "
        )
        if self.mode == "top":
            return f"{base}p.rank_pct < {params.add(self.top_pct / 100)}{ctx.scope('p.customer_id')}"
        where = (
            f"c.order_count >= {params.add(self.min_orders)} AND p.p_alive_peak IS NOT NULL "
            f"AND p.p_alive_peak - p.p_alive >= {params.add(self.min_drop)} AND p.p_alive < {params.add(self.below)}"
        )
        return f"{base}{where}{ctx.scope('p.customer_id')}"

    def _dormant_top(self, ctx: QueryContext, params: SqlParams, evidence: str) -> str:
        """Ranked among all dormant customers (also when one customer is re-tagged), then scoped."""
        tag, now, dormant = params.add(self.tag), params.add(ctx.now), params.add(self.dormant_days)
        share = params.add(self.top_pct / 100)
        days = ctx.dialect.days_since(now, "c.last_purchase_at")
        ranked = (
            f"SELECT p.customer_id, {evidence} AS evidence, "
            f"PERCENT_RANK() OVER (ORDER BY p.p_buy_90 DESC) AS dormant_rank "
            f"FROM customer_prediction p JOIN customer c ON c.id = p.customer_id "
            f"WHERE c.last_purchase_at IS NOT NULL AND {days} >= {dormant}"
        )
        return (f"SELECT d.customer_id, {tag} AS tag, d.evidence FROM ({ranked}) d "
                f"WHERE d.dormant_rank < {share}{ctx.scope('d.customer_id')}")

    def explain(self, tag: str, evidence: Mapping[str, Any]) -> str:
        p90 = f"{float(evidence.get('p90') or 0):.0%}"
        if self.mode == "dormant_top":
            return self.templates.render("why_prediction_dormant_top", days=f"{self.dormant_days:g}", p90=p90,
                                         share=f"{self.top_pct:g}", tag=tag)
        if self.mode == "top":
            rank = max(1, round(float(evidence.get("rank") or 0) * 100 + 0.5))
            return self.templates.render("why_prediction_top", p90=p90, rank=rank, tag=tag)
        peak, alive = float(evidence.get("alive_peak") or 0), float(evidence.get("alive") or 0)
        return self.templates.render("why_prediction_alive_drop", alive_peak=f"{peak:.0%}", alive=f"{alive:.0%}",
                                     orders=evidence.get("orders"), tag=tag)
