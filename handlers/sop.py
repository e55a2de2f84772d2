"""SOP: the scheduled ticks, a customer's change, and digest card clicks — thin adapters to sop/."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bot.commands import REST, TEXT, Arg, Call, command
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import cron
from customers.events import CustomerChanged
from customers.models import Customer, Guide
from operators.handover import on_handover
from operators.roles import EVERYONE, OPERATORS
from sop import chat, service
from sop.models import SopTask, TaskStatus
from sop.notify import notice

router = Router("sop")


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


SOP_TICK = cron("sop_tick", "scrm_sop_tick_cron")


@router.on("internal", SOP_TICK.name)
async def on_sop_tick(event: Event, deps: Deps) -> None:
    await service.run_tick(deps)


SOP_DIGEST = cron("sop_digest", "scrm_sop_digest_cron")


@router.on("internal", SOP_DIGEST.name)
async def on_sop_digest(event: Event, deps: Deps) -> None:
    await service.run_tick(deps)  # today's steps first, then the list
    await notice(deps, "digest")


SOP_REMINDER = cron("sop_reminder", "scrm_sop_reminder_cron")


@router.on("internal", SOP_REMINDER.name)
async def on_sop_reminder(event: Event, deps: Deps) -> None:
    await notice(deps, "reminder")


SOP_ESCALATION = cron("sop_escalation", "scrm_sop_escalation_cron")


@router.on("internal", SOP_ESCALATION.name)
async def on_sop_escalation(event: Event, deps: Deps) -> None:
    await notice(deps, "escalation")


@router.internal(CustomerChanged)
async def on_customer_changed(change: CustomerChanged, deps: Deps, key: str) -> None:
    await service.sweep_customers(deps, [change.customer_id])


@router.event("template_card_event")
async def on_card_click(event: Event, deps: Deps) -> None:
    # Lead cards share this event: their keys start with "lead:" and are ignored here.
    await service.complete_from_card(deps, event.get("FromUserName"), event.get("EventKey"))


@on_handover("SOP待办")
async def move_open_tasks(deps: Deps, old_userid: str, new_userid: str, external_userids: Sequence[str]) -> int:
    """Open SOP tasks follow their customers to the guide who takes them over."""
    giver = await Guide.get_or_none(userid=old_userid)
    taker = await Guide.get_or_none(userid=new_userid)
    if giver is None or taker is None:
        return 0
    customer_ids = await Customer.filter(external_userid__in=list(external_userids)).values_list("id", flat=True)
    moved: int = await SopTask.filter(
        guide_id=giver.id, customer_id__in=list(customer_ids), status=TaskStatus.OPEN
    ).update(guide_id=taker.id)
    return moved
