"""The sidebar's 添加会员 section: on any customer's card, the viewing guide's own members to add (masked
phones, what they bought, the greeting to send); and, on a matched customer's card, the member they are."""

from __future__ import annotations

from typing import Any

from acquisition.chat import greeting
from acquisition.models import Member
from acquisition.phones import mask
from acquisition.service import open_tasks
from sidebar.kinds import CardContext, card_section

__all__ = ["member_section"]

_LISTED = 5


@card_section("members", "添加会员")
async def member_section(ctx: CardContext) -> dict[str, Any] | None:
    templates = ctx.deps.config.templates
    items: list[dict[str, Any]] = []
    member = await Member.get_or_none(customer_id=ctx.customer.id)
    if member is not None:
        items.append({"text": f"{member.member_id} {member.name}", "sub": mask(member.phone)})
    total, tasks = await open_tasks(ctx.viewer.userid, _LISTED)
    for task in tasks:
        # The full number is one tap away (sidebar/views.py member_phone), for the guide whose task it is.
        sub = "，".join(part for part in (task.masked_phone, task.bought) if part)
        items.append({"text": f"#{task.id} {task.name or task.member_id}", "sub": sub,
                      "reveal": f"/sidebar/api/member-phone?task_id={task.id}"})
    if not items:
        return None
    section: dict[str, Any] = {"items": items}
    if tasks:
        section["count"] = total
        section["greeting"] = greeting(templates, tasks[0], ctx.viewer.name)
    return section
