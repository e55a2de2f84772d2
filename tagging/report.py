"""Why a customer has each tag — the rule and the evidence, or who set it: the 客户 and 为什么
answers, the sidebar card and ``scrm tags explain``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from customers.models import Customer, CustomerTag, TagSource
from tagging.config import RuleSet

__all__ = ["explain_customer", "explain_row"]

_SOURCE = {TagSource.GUIDE: "导购设置", TagSource.WECOM: "在企业微信中设置（导购或管理员）"}


def explain_row(rules: RuleSet, rule_id: str, tag: str, evidence: Mapping[str, Any] | str | None) -> str:
    facts: Mapping[str, Any] = orjson.loads(evidence) if isinstance(evidence, str) else (evidence or {})
    rule = next((r for r in rules.rules if r.id == rule_id), None)
    if rule is None:
        return f"规则 {rule_id}（已不在配置中）→ {tag}"
    return f"规则 {rule.id}「{rule.description}」: {rule.kind.explain(tag, facts)}"


async def explain_customer(rules: RuleSet, external_userid: str) -> list[str]:
    """One line per tag: group/tag, for which guide, why, and whether WeCom has it yet."""
    customer = await Customer.get_or_none(external_userid=external_userid)
    if customer is None:
        return [f"没有客户 {external_userid}"]
    rows = await CustomerTag.filter(customer_id=customer.id, removed=False).prefetch_related("tag__group", "guide")
    lines = [f"客户 {customer.name or external_userid}（{external_userid}）"]
    for row in sorted(rows, key=lambda r: (r.tag.group.name, r.tag.name, r.guide.userid)):
        why = (
            explain_row(rules, row.rule_id, row.tag.name, row.evidence)
            if row.source == TagSource.RULE
            else _SOURCE.get(row.source, row.source)
        )
        synced = "" if row.in_wecom else "（待同步到企业微信）"
        lines.append(f"- {row.tag.group.name}/{row.tag.name} @ {row.guide.userid}: {why}{synced}")
    if len(lines) == 1:
        lines.append("- 暂无标签")
    return lines
