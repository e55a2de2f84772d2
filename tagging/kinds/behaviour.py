"""``behaviour``: enough shop signals of some kinds, for a category or product, within a window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from bot.sqldialect import SqlParams
from bot.templates import Templates
from customers.lifecycle import DEFAULT, Lifecycle
from tagging.kinds.base import NO_TEXTS, QueryContext, RuleBase, RuleError, number, rule_type, text, texts

SIGNAL_TYPES = {
    "browse",
    "add_to_cart",
    "remove_from_cart",
    "checkout_started",
    "order_paid",
    "coupon_claimed",
    "coupon_redeemed",
    "link_open",
}
# A signal type as the sentence names it: the template ``why_signal_<type>``.
TEMPLATES = ("why_behaviour", *(f"why_signal_{name}" for name in sorted(SIGNAL_TYPES)))


@rule_type("behaviour")
class BehaviourRule(RuleBase):
    """A tag for enough shop signals on a category or product within a window.

    ``signals: [browse], category: 拖鞋, min_count: 3, window_days: 14, tag: 拖鞋``"""

    def __init__(self, params: Mapping[str, Any], lifecycle: Lifecycle = DEFAULT,
                 templates: Templates = NO_TEXTS) -> None:
        self.templates = templates
        self.tag = text(params, "tag")
        self.signals = texts(params, "signals", allowed=SIGNAL_TYPES)
        self.category = str(params.get("category") or "")
        self.product = str(params.get("product") or "")
        if not (self.category or self.product):
            raise RuleError("give a category or a product")
        self.min_count = int(number(params, "min_count", 1, minimum=1))
        self.window_days = number(params, "window_days", minimum=1)

    @property
    def tags(self) -> Sequence[str]:
        return [self.tag]

    def select(self, ctx: QueryContext, params: SqlParams) -> str:
        tag, types = params.add(self.tag), params.in_list(self.signals)
        cutoff = params.add(ctx.now - timedelta(days=self.window_days))
        column, value = ("s.category", self.category) if self.category else ("s.product_id", self.product)
        what, minimum = params.add(value), params.add(self.min_count)
        evidence = ctx.dialect.json_object(("count", "COUNT(*)"), ("last", "MAX(s.occurred_at)"))
        return (
            f"SELECT s.customer_id, {tag} AS tag, {evidence} AS evidence FROM signal s "
            f"WHERE s.customer_id IS NOT NULL AND s.type IN {types} AND s.occurred_at >= {cutoff} "
            f"AND {column} = {what}{ctx.scope('s.customer_id')} "
            f"GROUP BY s.customer_id HAVING COUNT(*) >= {minimum}"
        )

    def explain(self, tag: str, evidence: Mapping[str, Any]) -> str:
        kinds = "/".join(self.templates.render(f"why_signal_{s}") for s in self.signals)
        return self.templates.render("why_behaviour", window=f"{self.window_days:g}", signals=kinds,
                                     target=self.category or self.product, count=evidence.get("count"),
                                     threshold=self.min_count, tag=tag)
