"""SOP: the scheduled ticks, a customer's change, and digest card clicks — thin adapters to sop/."""

from __future__ import annotations

from collections.abc import Sequence

from bot.commands import REST, TEXT, Arg, Call
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import cron
from customers.events import CustomerChanged
from operators.roles import EVERYONE, OPERATORS
from sop import chat, service
from sop.delivery import notice

router = Router("sop")


@router.command("待办", "todo", "tasks", "今日待办", roles=EVERYONE, help="今天的 SOP 待办，最有价值的在前")
async def todo(call: Call) -> str:
    return await chat.tasks_reply(call.deps, call.caller.userid)


@router.command("完成", "done", args=[Arg("任务编号", TEXT)], roles=EVERYONE,
                help="把一项待办标记为完成，例如「完成 12」")
async def done(call: Call) -> str:
    return await chat.complete_by_chat(call.deps, call.caller.userid, str(call.args["任务编号"]))


@router.command("SOP 列表", "sop list", "sop", roles=OPERATORS, help="列出 SOP 剧本及其状态")
async def sop_list(call: Call) -> str:
    return await chat.playbooks_reply(call.deps)


@router.command("SOP 暂停", "sop pause", args=[Arg("名称", REST)], roles=OPERATORS,
                help="暂停一个 SOP（不再生成新任务）")
async def sop_pause(call: Call) -> str:
    return await chat.pause_reply(call.deps, str(call.args["名称"]), by=call.caller.userid)


@router.command("SOP 恢复", "sop resume", args=[Arg("名称", REST)], roles=OPERATORS, help="恢复一个已暂停的 SOP")
async def sop_resume(call: Call) -> str:
    return await chat.resume_reply(call.deps, str(call.args["名称"]), by=call.caller.userid)


SOP_TICK = cron("sop_tick", "scrm_sop_tick_cron")


@router.tick(SOP_TICK)
async def on_sop_tick(event: Event, deps: Deps) -> None:
    await service.run_tick(deps)


SOP_DIGEST = cron("sop_digest", "scrm_sop_digest_cron")


@router.tick(SOP_DIGEST)
async def on_sop_digest(event: Event, deps: Deps) -> None:
    await service.run_digest(deps)


SOP_REMINDER = cron("sop_reminder", "scrm_sop_reminder_cron")


@router.tick(SOP_REMINDER)
async def on_sop_reminder(event: Event, deps: Deps) -> None:
    await notice(deps, "reminder")


SOP_ESCALATION = cron("sop_escalation", "scrm_sop_escalation_cron")


@router.tick(SOP_ESCALATION)
async def on_sop_escalation(event: Event, deps: Deps) -> None:
    await notice(deps, "escalation")


@router.internal(CustomerChanged)
async def on_customer_changed(change: CustomerChanged, deps: Deps, key: str) -> None:
    await service.sweep_customers(deps, [change.customer_id])


@router.event("template_card_event")
async def on_card_click(event: Event, deps: Deps) -> None:
    # Lead cards share this event: their keys start with "lead:" and are ignored here.
    await service.complete_from_card(deps, event.get("FromUserName"), event.get("EventKey"))


@router.on_handover("SOP待办")
async def move_open_tasks(deps: Deps, old_userid: str, new_userid: str, external_userids: Sequence[str]) -> int:
    """Open SOP tasks follow their customers to the guide who takes them over."""
    return await service.move_open_tasks(old_userid, new_userid, list(external_userids))
