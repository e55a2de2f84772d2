"""``keyword``: words in the customer's messages (app messages and chat-archive messages)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from bot.sqldialect import SqlParams
from bot.templates import Templates
from customers.lifecycle import DEFAULT, Lifecycle
from tagging.kinds.base import NO_TEXTS, QueryContext, RuleBase, number, rule_type, text, texts


def _literal(keyword: str) -> str:
    """``keyword`` inside a LIKE pattern as the text itself: "%" and "_" match only themselves
    (a keyword made only of "%" would otherwise match every message)."""
    return keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


TEMPLATES = ("why_keyword",)


@rule_type("keyword")
class KeywordRule(RuleBase):
    """A tag for words in the customer's messages within a window.

    ``keywords: [送礼, 礼盒], window_days: 30, tag: 送礼需求``"""

    def __init__(self, params: Mapping[str, Any], lifecycle: Lifecycle = DEFAULT,
                 templates: Templates = NO_TEXTS) -> None:
        self.templates = templates
        self.tag = text(params, "tag")
        self.keywords = texts(params, "keywords")
        self.window_days = number(params, "window_days", 30, minimum=1)
        self.min_count = int(number(params, "min_count", 1, minimum=1))

    @property
    def tags(self) -> Sequence[str]:
        return [self.tag]

    def select(self, ctx: QueryContext, params: SqlParams) -> str:
        tag, since = params.add(self.tag), params.add(ctx.now - timedelta(days=self.window_days))
        likes = " OR ".join(f"m.content LIKE {params.add(f'%{_literal(k)}%')} ESCAPE '\\'" for k in self.keywords)
        evidence = ctx.dialect.json_object(("count", "COUNT(*)"), ("last", "MAX(m.sent_at)"))
        return (
            f"SELECT m.customer_id, {tag} AS tag, {evidence} AS evidence FROM chat_message m "
            f"WHERE m.customer_id IS NOT NULL AND m.sent_at >= {since} AND ({likes})"
            f"{ctx.scope('m.customer_id')} GROUP BY m.customer_id HAVING COUNT(*) >= {params.add(self.min_count)}"
        )

    def explain(self, tag: str, evidence: Mapping[str, Any]) -> str:
        return self.templates.render("why_keyword", window=f"{self.window_days:g}", keywords="/".join(self.keywords),
                                     count=evidence.get("count"), tag=tag)
