"""Chat commands for SOP: 待办, 完成 <id> (guides), SOP 列表 / 暂停 / 恢复 (operators)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.commands import EVERYONE, OPERATORS, REST, TEXT, Arg, Call, command
from bot.deps import Deps
from customers.models import Customer
from sop import chat
from sop.models import SopTask, TaskStatus


@command("待办", "todo", "tasks", "今日待办", roles=EVERYONE, help="今天的 SOP 待办，最有价值的在前")
async def todo(call: Call) -> str:
    return await chat.tasks_reply(call.deps, call.caller.userid)


@command("完成", "done", args=[Arg("任务编号", TEXT)], roles=EVERYONE, help="把一项待办标记为完成，例如「完成 12」")
async def done(call: Call) -> str:
    return await chat.complete_by_chat(call.deps, call.caller.userid, str(call.args["任务编号"]))


@command("SOP 列表", "sop list", "sop", roles=OPERATORS, help="列出 SOP 剧本及其状态")
async def sop_list(call: Call) -> str:
    return await chat.playbooks_reply(call.deps)


@command("SOP 暂停", "sop pause", args=[Arg("名称", REST)], roles=OPERATORS, help="暂停一个 SOP（不再生成新任务）")
async def sop_pause(call: Call) -> str:
    return await chat.pause_reply(call.deps, str(call.args["名称"]), by=call.caller.userid)


@command("SOP 恢复", "sop resume", args=[Arg("名称", REST)], roles=OPERATORS, help="恢复一个已暂停的 SOP")
async def sop_resume(call: Call) -> str:
    return await chat.resume_reply(call.deps, str(call.args["名称"]), by=call.caller.userid)


async def open_task_lines(deps: Deps, customer: Customer) -> list[str]:
    zone = ZoneInfo(deps.settings.scrm_timezone)
    tasks = await SopTask.filter(customer_id=customer.id, status=TaskStatus.OPEN).order_by("due_at").limit(5)
    return [f"待办 #{t.id}：{t.reason or t.playbook}（{t.due_at.astimezone(zone):%m-%d %H:%M} 到期）" for t in tasks]


