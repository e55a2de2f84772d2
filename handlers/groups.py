"""Customer groups (客户群): member changes roll group codes over and attribute newcomers; the
群码 / 新建群码 commands; the backstop check, group playbook pushes and their results, the daily
statistics and the store managers' line — thin adapters to groups/."""

from __future__ import annotations

from bot.commands import Arg, Call
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import cron, every
from customers.service import utc_from_unix
from groups import chat, delivery, report, service
from operators.roles import MANAGERS, OPERATORS

router = Router("groups")

EVENT = "change_external_chat"


@router.event(EVENT, "create")
@router.event(EVENT, "update")
async def on_group_changed(event: Event, deps: Deps) -> None:
    change = service.ChatChange(event.get("ChatId"), event.get("ChangeType"), event.get("UpdateDetail"),
                                event.get("State"), utc_from_unix(event.get("CreateTime")) or deps.clock.now())
    await service.on_chat_changed(deps, change)


GROUP_CODES_CHECK = every("group_codes_check", "scrm_group_codes_check_every_s")


@router.tick(GROUP_CODES_CHECK)
async def on_group_codes_check(event: Event, deps: Deps) -> None:
    await service.check_codes(deps)


GROUP_PUSH = cron("group_push", "scrm_group_push_cron")


@router.tick(GROUP_PUSH)
async def on_group_push(event: Event, deps: Deps) -> None:
    await delivery.run_pushes(deps)


GROUP_RESULTS = every("group_results", "scrm_group_results_every_s")


@router.tick(GROUP_RESULTS)
async def on_group_results(event: Event, deps: Deps) -> None:
    await delivery.sync_push_results(deps)


GROUP_STATS = cron("group_stats", "scrm_group_stats_cron")


@router.tick(GROUP_STATS)
async def on_group_stats(event: Event, deps: Deps) -> None:
    await report.sync_yesterday(deps)


@router.command("群码", "groupcode", args=[Arg("名称")], roles=MANAGERS, help="发送群活码图片")
async def group_code(call: Call) -> str:
    return await chat.code_reply(call.deps, call.caller.userid, call.args["名称"], call.event_key)


@router.command("新建群码", "newgroupcode", args=[Arg("名称"), Arg("门店")], roles=OPERATORS,
         help="新建群活码：新建群码 春季快闪群 sh01")
async def new_group_code(call: Call) -> str:
    return await chat.new_code_reply(call.deps, call.caller.userid, call.args["名称"], call.args["门店"],
                                     call.event_key)
