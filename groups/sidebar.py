"""What the sidebar's group view shows of a group (sidebar/service.py ``group_card``): the group code it
belongs to, its size against the full mark, and the group steps due for it that its owner sends
from the sidebar (one tap: ``sendChatMessage`` into the group, then ``step_sent``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.deps import Deps
from groups.config import GROUPS
from groups.delivery import TASK, mark_task_sent
from groups.models import GroupCodeChat, GroupPush

__all__ = ["STEPS_FOR", "group_view", "step_sent"]

STEPS_FOR = timedelta(days=7)  # a task step not sent within a week is no longer offered


async def group_view(deps: Deps, viewer: str, chat_id: str, members: int) -> dict[str, Any]:
    link = await GroupCodeChat.get_or_none(chat_id=chat_id).prefetch_related("code")
    now = deps.clock.now()
    pushes = await GroupPush.filter(mode=TASK, owner_userid=viewer, due_at__lte=now,
                                    due_at__gte=now - STEPS_FOR).order_by("due_at")
    return {
        "code": {"name": link.code.name, "state": link.code.state, "listed": link.listed} if link else None,
        "members": members,
        "full_at": deps.config[GROUPS].group_full_at,
        "steps": [{"id": p.id, "playbook": p.playbook, "text": p.text} for p in pushes
                  if chat_id in p.chat_ids and chat_id not in p.sent_chat_ids],
    }


async def step_sent(deps: Deps, viewer: str, push_id: int, chat_id: str) -> bool:
    """The owner sent a step's text into the group (counted once per step and group)."""
    return await mark_task_sent(deps, push_id, viewer, chat_id)
