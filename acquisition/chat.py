"""What guides read about their add tasks (添加会员): the list (masked phones), one member's full phone
on the guide's own request, and the lines 待办 adds. Rendered from config/templates.yaml."""

from __future__ import annotations

from acquisition.config import ACQUISITION
from acquisition.service import AddTask, open_tasks, task_phone
from bot.deps import Deps
from bot.templates import Templates
from customers.models import Guide

__all__ = ["TEMPLATES", "greeting", "phone_reply", "task_line", "tasks_reply", "todo_lines"]

TEMPLATES = ("acquire_task_line", "acquire_task_bought", "acquire_tasks_list", "acquire_tasks_none",
             "acquire_greeting", "acquire_phone", "acquire_phone_unknown", "acquire_todo")


def task_line(templates: Templates, task: AddTask) -> str:
    bought = templates.render("acquire_task_bought", bought=task.bought) if task.bought else ""
    return templates.render("acquire_task_line", task_id=task.id, name=task.name or task.member_id,
                            phone=task.masked_phone, bought=bought)


def greeting(templates: Templates, task: AddTask, guide_name: str) -> str:
    return templates.render("acquire_greeting", name=task.name, store_name=task.store_name, guide_name=guide_name)


async def tasks_reply(deps: Deps, userid: str) -> str:
    """``添加会员``: the guide's members to add, oldest first, and the greeting to send."""
    templates = deps.config.templates
    total, tasks = await open_tasks(userid, deps.config[ACQUISITION].digest_top * 2)
    if not tasks:
        return templates.render("acquire_tasks_none")
    guide = await Guide.get_or_none(userid=userid)
    items = "\n".join(task_line(templates, t) for t in tasks)
    return templates.render("acquire_tasks_list", count=total, items=items,
                            greeting=greeting(templates, tasks[0], guide.name if guide else ""))


async def phone_reply(deps: Deps, userid: str, task_text: str) -> str:
    """``会员电话 <编号>``: the full number, to the guide whose task it is and no one else."""
    templates = deps.config.templates
    text = task_text.strip().lstrip("#＃")
    phone = await task_phone(userid, int(text)) if text.isdigit() else None
    if phone is None:
        return templates.render("acquire_phone_unknown", task_id=text[:20])
    return templates.render("acquire_phone", task_id=int(text), phone=phone.removeprefix("+86"))


async def todo_lines(deps: Deps, userid: str) -> str:
    """The 添加会员 part of 待办 ("" when the guide has none)."""
    templates = deps.config.templates
    total, tasks = await open_tasks(userid, deps.config[ACQUISITION].digest_top)
    if not tasks:
        return ""
    return templates.render("acquire_todo", count=total, items="\n".join(task_line(templates, t) for t in tasks))
