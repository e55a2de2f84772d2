"""Chat replies for guides and operators, as plain functions the chat command router calls:
``待办``, ``完成 <id>``, ``SOP 列表``, ``SOP 暂停 <名称>``, ``SOP 恢复 <名称>``; and the open-task
lines of the 客户 profile. Each returns the Chinese reply (from config/templates.yaml)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from acquisition.chat import todo_lines
from bot.deps import Deps
from customers.models import Customer
from sop.config import PLAYBOOKS
from sop.delivery import open_tasks_by_guide, task_line
from sop.kinds.triggers import day_bounds
from sop.service import Completion, complete_task, open_tasks_of, paused_playbooks, set_paused

__all__ = ["tasks_reply", "complete_by_chat", "playbooks_reply", "pause_reply", "resume_reply", "open_task_lines"]

MAX_LISTED = 10


async def tasks_reply(deps: Deps, userid: str) -> str:
    """``待办``: the guide's open tasks due by tonight, overdue first, then most valuable (the digest's order)."""
    tz = deps.settings.scrm_timezone
    today = deps.clock.now().astimezone(ZoneInfo(tz)).date()
    _start, end = day_bounds(today, tz)
    rows = (await open_tasks_by_guide(end, MAX_LISTED, userid=userid, now=deps.clock.now())).get(userid, [])
    templates = deps.config.templates
    members = await todo_lines(deps, userid)  # the members to add (添加会员), after the SOP tasks
    if not rows:
        return members or templates.render("sop_tasks_none")
    items = "\n".join(task_line(templates, row, tz) for row in rows)
    listed = templates.render("sop_tasks_list", count=rows[0]["total"], items=items)
    return f"{listed}\n\n{members}" if members else listed


async def complete_by_chat(deps: Deps, userid: str, task_id_text: str) -> str:
    """``完成 <id>`` (``#12`` or ``12``)."""
    templates = deps.config.templates
    text = task_id_text.strip().lstrip("#＃")
    if not text.isdigit():
        return templates.render("sop_done_usage", task_id=task_id_text.strip()[:20])
    done = await complete_task(deps, userid, int(text), "chat")
    customer = done.task.customer.name if done.task is not None else ""
    kind = {Completion.DONE: "sop_done_ok", Completion.ALREADY: "sop_done_already"}.get(
        done.outcome, "sop_done_unknown"
    )
    return templates.render(kind, task_id=int(text), customer_name=customer or templates.render("sop_customer_unnamed"))


async def playbooks_reply(deps: Deps) -> str:
    """``SOP 列表``: each playbook, running or paused, and its trigger."""
    paused = await paused_playbooks()
    templates = deps.config.templates
    lines = [
        templates.render(
            "sop_playbook_line",
            state="⏸" if p.id in paused else "▶",
            name=p.name,
            trigger=p.trigger_type,
            count=len(p.steps),
            holdout=templates.render("sop_playbook_holdout", holdout=f"{p.holdout_pct:g}") if p.holdout_pct else "",
        )
        for p in deps.config[PLAYBOOKS].playbooks
    ]
    return templates.render("sop_playbooks", count=len(lines), items="\n".join(lines))


async def _set(deps: Deps, name: str, paused: bool, by: str) -> str:
    templates = deps.config.templates
    playbook = deps.config[PLAYBOOKS].get(name.strip())
    if playbook is None:
        names = "、".join(p.name for p in deps.config[PLAYBOOKS].playbooks)
        return templates.render("sop_playbook_unknown", name=name.strip()[:32], playbooks=names)
    await set_paused(playbook.id, paused, by)
    return templates.render("sop_paused" if paused else "sop_resumed", name=playbook.name)


async def pause_reply(deps: Deps, name: str, by: str = "") -> str:
    """``SOP 暂停 <名称>``: no new tasks from this playbook until resumed (open ones stay)."""
    return await _set(deps, name, True, by)


async def resume_reply(deps: Deps, name: str, by: str = "") -> str:
    """``SOP 恢复 <名称>``."""
    return await _set(deps, name, False, by)


async def open_task_lines(deps: Deps, customer: Customer) -> list[str]:
    """The 客户 profile's section: the customer's open tasks, soonest due first."""
    zone = ZoneInfo(deps.settings.scrm_timezone)
    return [
        deps.config.templates.render("sop_profile_task", task_id=t.id, reason=t.reason or t.playbook,
                                     due=f"{t.due_at.astimezone(zone):%m-%d %H:%M}")
        for t in await open_tasks_of(customer.id)
    ]
