"""Goals: when one is seen for a task's customer, the open task closes itself (done by goal)."""

from __future__ import annotations

from datetime import datetime

from bot.sqldialect import SqlParams
from sop.kinds import goal


@goal("ordered")
def ordered(sql: SqlParams, since: datetime) -> str:
    """The customer paid an order after the task was created (e.g. a reactivation worked)."""
    recent = sql.add(since)
    return (
        f"t.customer_id IN (SELECT o.customer_id FROM orders o WHERE o.paid_at > {recent}) "
        "AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = t.customer_id AND o.paid_at > t.created_at)"
    )


@goal("replied")
def replied(sql: SqlParams, since: datetime) -> str:
    """The customer wrote to the guide after the task was created (chat archive)."""
    recent = sql.add(since)
    return (
        "EXISTS (SELECT 1 FROM chat_message m JOIN customer c ON c.id = m.customer_id "
        f"WHERE m.customer_id = t.customer_id AND m.from_id = c.external_userid AND m.sent_at > {recent} "
        "AND m.sent_at > t.created_at)"
    )
