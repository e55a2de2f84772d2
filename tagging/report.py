"""Why a customer has each tag — the rule and the evidence, or who set it: the 客户 and 为什么
answers, the sidebar card and ``scrm tags explain``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from customers.models import Customer, CustomerTag, TagSource
from tagging.config import RuleSet

__all__ = ["explain_customer", "explain_row"]

# Who set a tag no rule gave, by its template id.
_SOURCE = {TagSource.GUIDE: "why_source_guide", TagSource.WECOM: "why_source_wecom"}
TEMPLATES = ("why_rule", "why_rule_gone", "why_customer", "why_customer_not_found", "why_line", "why_not_in_wecom",
             "why_no_tags", *_SOURCE.values())


def explain_row(rules: RuleSet, rule_id: str, tag: str, evidence: Mapping[str, Any] | str | None) -> str:
    facts: Mapping[str, Any] = orjson.loads(evidence) if isinstance(evidence, str) else (evidence or {})
    rule = next((r for r in rules.rules if r.id == rule_id), None)
    if rule is None:
        return rules.templates.render("why_rule_gone", rule=rule_id, tag=tag)
    return rules.templates.render("why_rule", rule=rule.id, description=rule.description,
                                  why=rule.kind.explain(tag, facts))


async def explain_customer(rules: RuleSet, external_userid: str) -> list[str]:
    """One line per tag: group/tag, for which guide, why, and whether WeCom has it yet."""
    say = rules.templates.render
    customer = await Customer.get_or_none(external_userid=external_userid)
    if customer is None:
        return [say("why_customer_not_found", external_userid=external_userid)]
    rows = await CustomerTag.filter(customer_id=customer.id, removed=False).prefetch_related("tag__group", "guide")
    lines = [say("why_customer", customer_name=customer.name or external_userid, external_userid=external_userid)]
    for row in sorted(rows, key=lambda r: (r.tag.group.name, r.tag.name, r.guide.userid)):
        if row.source == TagSource.RULE:
            why = explain_row(rules, row.rule_id, row.tag.name, row.evidence)
        else:
            source = _SOURCE.get(row.source)
            why = say(source) if source else row.source
        # Appended to ``why``: a template of its own, since most tags are synced and show nothing.
        synced = "" if row.in_wecom else say("why_not_in_wecom")
        lines.append(say("why_line", group=row.tag.group.name, tag=row.tag.name, guide=row.guide.userid,
                         why=f"{why}{synced}"))
    if len(lines) == 1:
        lines.append(say("why_no_tags"))
    return lines
