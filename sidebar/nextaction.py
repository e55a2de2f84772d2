"""The next best action: the one thing most worth doing with this customer now, first on the sidebar card.

An action kind is one registered function, ``@action_kind("id")`` on ``async (CardContext) ->
list[NextAction]``, in its feature's card-sections module (bot/features.py ``card_sections``): the
shipped ones are an SOP task and an open lead (here) and a predicted reorder window
(``predict/sidebar.py``); a new kind (a member add, say) is one more function, no edit here.

Every candidate has a ``worth`` on one scale: how urgent its kind is (``URGENCY``) times what the
customer is worth (``predict.value.value_weight``: expected 90-day spend against the base's, 0.5-2).
The card shows the highest; SOP's digest and ``待办`` order tasks by the same urgency, then value
(``sop/delivery.py``'s ``task_order_sql``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from bot.registry import Registry
from leads.config import LEADS
from leads.models import OPEN_STATUSES
from predict.value import value_weight
from sidebar.kinds import CardContext, card_section
from sidebar.reads import params, rows, when
from sop.delivery import TASK_DUE_URGENCY, TASK_OVERDUE_URGENCY
from sop.models import TaskStatus

__all__ = ["ACTION_KINDS", "NextAction", "action_kind", "best_action", "URGENCY", "LEAD_ITEM"]

# How urgent each kind is, on the one scale ``worth`` uses (× the customer's value weight).
URGENCY = {"task_overdue": TASK_OVERDUE_URGENCY, "lead": 2.5, "task_due": TASK_DUE_URGENCY, "reorder": 1.0}
# The library item (config/sidebar.yaml) a lead's one-tap send puts in the chat.
LEAD_ITEM = "lead_follow_up"
# Tasks due within this much of now count as "to do now".
_DUE_SOON = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class NextAction:
    kind: str
    worth: float
    title: str  # one line: what to do and why (the guide's words, from config/sidebar.yaml ``texts``)
    text: str  # the suggested message ("" = none)
    send_item: str  # what the page's one-tap send asks for (``task:<id>`` or a library item id; "" = no send)


ActionKind = Callable[[CardContext], Awaitable[list[NextAction]]]
ACTION_KINDS: Registry[ActionKind] = Registry("next-action kind")


def action_kind(kind_id: str) -> Callable[[ActionKind], ActionKind]:
    """Register a kind of next action (refuses a duplicate id)."""
    return ACTION_KINDS.register(kind_id)


async def best_action(ctx: CardContext) -> NextAction | None:
    found = await asyncio.gather(*(build(ctx) for build in ACTION_KINDS.values()))
    candidates = [action for actions in found for action in actions]
    return max(candidates, key=lambda action: action.worth, default=None)  # a tie: the first kind, first row


@card_section("next", "下一步", first=True)
async def next_section(ctx: CardContext) -> dict[str, Any] | None:
    """Only for the viewer's own customer (a manager's view has nothing to do here), and only with an action."""
    if ctx.relation is None:
        return None
    action = await best_action(ctx)
    return None if action is None else {"action": asdict(action)}


def _library_text(ctx: CardContext, item_id: str) -> str:
    item = ctx.library.items.get(item_id)
    if item is None or item.kind != "text":
        return ""
    name = (ctx.relation.remark if ctx.relation and ctx.relation.remark else "") or ctx.customer.name
    return item.render({"name": name, "guide": ctx.viewer.name, "store": ""})


@action_kind("sop_task")
async def sop_task(ctx: CardContext) -> list[NextAction]:
    """The viewer's open SOP task for this customer, overdue first, with its suggested text."""
    p = params()
    found = await rows(
        "SELECT id, reason, playbook, suggested_text, due_at FROM sop_task "
        f"WHERE customer_id = {p.add(ctx.customer.id)} AND guide_id = {p.add(ctx.viewer.guide_id)} "
        f"AND status = {p.add(TaskStatus.OPEN.value)} ORDER BY value DESC, due_at, id LIMIT 10",
        p,
    )
    weight = await value_weight(ctx.customer.id)
    out = []
    for row in found:
        due = when(row["due_at"]) or ctx.now
        if due > ctx.now + _DUE_SOON:
            continue
        overdue = due < ctx.now
        reason = row["reason"] or row["playbook"]
        text = row["suggested_text"] or ""
        out.append(NextAction(
            "sop_task", (TASK_OVERDUE_URGENCY if overdue else TASK_DUE_URGENCY) * weight,
            ctx.library.text("next_task_overdue" if overdue else "next_task", reason=reason), text,
            f"task:{row['id']}" if text else "",
        ))
    return out


@action_kind("lead")
async def lead(ctx: CardContext) -> list[NextAction]:
    """The customer's open lead (a hot shop signal or chat pattern) for the viewer, with a follow-up text."""
    p = params()
    found = await rows(
        "SELECT id, pattern, reason FROM lead "
        f"WHERE customer_id = {p.add(ctx.customer.id)} AND guide_userid = {p.add(ctx.viewer.userid)} "
        f"AND status IN {p.in_list([status.value for status in OPEN_STATUSES])} ORDER BY created_at DESC LIMIT 1",
        p,
    )
    if not found:
        return []
    patterns = ctx.deps.config[LEADS].patterns
    row = found[0]
    title = patterns[row["pattern"]].title if row["pattern"] in patterns else row["pattern"]
    text = _library_text(ctx, LEAD_ITEM)
    return [NextAction("lead", URGENCY["lead"] * await value_weight(ctx.customer.id),
                       ctx.library.text("next_lead", reason=row["reason"] or title),
                       text, LEAD_ITEM if text else "")]
