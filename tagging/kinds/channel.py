"""``channel``: the contact-way ``State`` a customer came through → a tag (store, campaign)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.sqldialect import SqlParams
from bot.templates import Templates
from customers.lifecycle import DEFAULT, Lifecycle
from tagging.kinds.base import NO_TEXTS, QueryContext, RuleBase, RuleError, rule_type, text

TEMPLATES = ("why_channel",)


@rule_type("channel")
class ChannelRule(RuleBase):
    """A tag per contact-way ``State``: where the customer was added.

    ``states: {store_sh01: 上海南京西路店, camp_1111: 双11活动}``"""

    def __init__(self, params: Mapping[str, Any], lifecycle: Lifecycle = DEFAULT,
                 templates: Templates = NO_TEXTS) -> None:
        self.templates = templates
        states = params.get("states")
        if not isinstance(states, Mapping) or not states:
            raise RuleError("states must map contact-way state values to tag names")
        self.states = {str(state): text({"tag": tag}, "tag") for state, tag in states.items() if state != "__line__"}

    @property
    def tags(self) -> Sequence[str]:
        return sorted(set(self.states.values()))

    def select(self, ctx: QueryContext, params: SqlParams) -> str:
        cases = " ".join(f"WHEN {params.add(state)} THEN {params.add(tag)}" for state, tag in self.states.items())
        # Rows whose state no mapping names give a NULL tag and are dropped by the engine's join.
        return (
            f"SELECT r.customer_id, CASE r.state {cases} END AS tag, "
            f"{ctx.dialect.json_object(('state', 'r.state'))} AS evidence "
            f"FROM relationship r WHERE r.state <> ''{ctx.scope('r.customer_id')}"
        )

    def explain(self, tag: str, evidence: Mapping[str, Any]) -> str:
        return self.templates.render("why_channel", state=evidence.get("state"), tag=tag)
