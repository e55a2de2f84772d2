"""Operators: chat text is a command (bot/commands.py), 帮助, 角色, 队列, hand-over and its results."""

from __future__ import annotations

from bot import commands
from bot.commands import Arg, Call
from bot.configfiles import ConfigError
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.reload import reload_config
from bot.scheduler import every
from customers.models import Guide, Role
from operators import chat, handover
from operators.delivery import check_and_report_handovers
from operators.roles import ADMINS, EVERYONE, MEMBER, OPERATORS, ROLE_SPELLINGS

router = Router("operators")


@router.message("text")
async def on_command(event: Event, deps: Deps) -> None:
    await commands.handle_text(deps, event.get("FromUserName"), event.get("Content"), event.key)


@router.command("帮助", "help", "?", "菜单", roles=EVERYONE, help="列出你可以使用的命令")
async def help_(call: Call) -> str:
    return chat.help_text(call)


@router.command("角色", "role", args=[Arg("成员", MEMBER), Arg("角色", choices=ROLE_SPELLINGS)], roles=ADMINS,
                help="设置成员角色：导购、店长、运营、总部、管理员")
async def set_role(call: Call) -> str:
    member: Guide = call.args["成员"]
    return await chat.set_role(call, member, Role(call.args["角色"]))


@router.command("队列", "events", "queue", "队列状态", "事件", roles=OPERATORS, help="事件队列：待处理、重试、死信")
async def queue_at_a_glance(call: Call) -> str:
    return await chat.queue_text(call)


@router.command("交接", "handover", "transfer", args=[Arg("离职导购", MEMBER), Arg("接手导购", MEMBER)],
                roles=OPERATORS,
                help="把导购的客户转给另一位导购（在职或离职继承）")
async def hand_over(call: Call) -> str:
    giver: Guide = call.args["离职导购"]
    taker: Guide = call.args["接手导购"]
    return await chat.hand_over(call, giver, taker)


HANDOVER_CHECK = every("handover_check", "scrm_handover_check_every_s")


@router.tick(HANDOVER_CHECK)
async def on_handover_check(event: Event, deps: Deps) -> None:
    await check_and_report_handovers(deps)


@router.event("change_external_contact", "transfer_fail")
async def on_transfer_fail(event: Event, deps: Deps) -> None:
    await handover.transfer_failed(event.get("UserID"), event.get("ExternalUserID"), event.get("FailReason"))


@router.command("重载配置", "reloadconfig", "重载标签规则", "reload", "reloadrules", "重载话术库", "reloadlibrary",
                "话术库",
                roles=OPERATORS, help="重新读取全部配置文件（标签规则、线索、SOP、话术库……；有误则全部不生效）")
async def reload_config_files(call: Call) -> str:
    try:
        reloaded = await reload_config(call.deps)
    except ConfigError as err:
        return call.say("cmd_config_invalid", detail=str(err)[-300:])
    changed = "、".join(reloaded.changed) or call.say("cmd_nothing_changed")
    return call.say("cmd_config_reloaded", count=reloaded.files, lines=changed)
