"""Operators: chat text is a command (bot/commands.py), 帮助, 角色, 队列, hand-over and its results."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import commands
from bot.commands import (
    ADMINS,
    EVERYONE,
    MEMBER,
    OPERATORS,
    ROLE_NAMES,
    Arg,
    Call,
    CommandError,
    command,
    commands_for,
    say,
    send_to_member,
)
from bot.configfiles import ConfigError
from bot.deadletters import latest_dead_letter, queue_stats
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.reload import reload_config
from bot.scheduler import every
from customers import handover
from customers.handover import HandoverError, start_handover
from customers.models import Guide, Role
from customers.org import ROLE_FROM_CHAT

router = Router("operators")


@router.message("text")
async def on_command(event: Event, deps: Deps) -> None:
    await commands.handle_text(deps, event.get("FromUserName"), event.get("Content"), event.key)




@command("帮助", "help", "?", "菜单", roles=EVERYONE, help="列出你可以使用的命令")
async def help_(call: Call) -> str:
    lines = [f"· {c.usage} — {c.help}" for c in commands_for(call.caller.role)]
    return call.say("cmd_help", name=call.caller.name, role=ROLE_NAMES[call.caller.role], lines="\n".join(lines))


ROLES = {alias: role.value for role in Role for alias in (role.value, ROLE_NAMES[role])} | {
    "店长": Role.STORE_MANAGER.value, "manager": Role.STORE_MANAGER.value, "运营": Role.OPERATOR.value,
    "总部": Role.HQ.value, "管理员": Role.ADMIN.value, "导购": Role.GUIDE.value,
}


@command("角色", "role", args=[Arg("成员", MEMBER), Arg("角色", choices=ROLES)], roles=ADMINS,
         help="设置成员角色：导购、店长、运营、总部、管理员")
async def set_role(call: Call) -> str:
    member: Guide = call.args["成员"]
    role = Role(call.args["角色"])
    member.role, member.role_source = role, ROLE_FROM_CHAT
    # The chat decision outlives restarts: config/org.yaml no longer changes this member's role.
    await member.save(update_fields=["role", "role_source", "updated_at"])
    return call.say("cmd_role_set", name=member.name or member.userid, role=ROLE_NAMES[role])


@command("队列", "events", "queue", "队列状态", "事件", roles=OPERATORS, help="事件队列：待处理、重试、死信")
async def queue_at_a_glance(call: Call) -> str:
    stats = await queue_stats(call.deps.queue)
    detail = ""
    latest = await latest_dead_letter(call.deps.queue) if stats.dead else None
    if latest is not None:
        detail = call.say("cmd_events_dead", count=stats.dead, detail=f"{latest.route}：{latest.error[:120]}")
    return call.say(
        "cmd_events",
        count=stats.stream,
        pending=stats.pending_total,
        seconds=f"{stats.oldest_age_s:.0f}",
        waiting=stats.retries,
        failed=stats.dead,
        detail=detail,
    )


@command("交接", "handover", "transfer", args=[Arg("离职导购", MEMBER), Arg("接手导购", MEMBER)], roles=OPERATORS,
         help="把导购的客户转给另一位导购（在职或离职继承）")
async def hand_over(call: Call) -> str:
    giver: Guide = call.args["离职导购"]
    taker: Guide = call.args["接手导购"]
    try:
        report = await start_handover(call.deps, giver.userid, taker.userid, call.caller.userid)
    except HandoverError as err:
        raise CommandError(call.say("cmd_handover_refused", detail=str(err))) from None
    return handover_text(call.deps, report, "cmd_handover_started")


HANDOVER_CHECK = every("handover_check", "scrm_handover_check_every_s")


@router.on("internal", HANDOVER_CHECK.name)
async def on_handover_check(event: Event, deps: Deps) -> None:
    for report in await handover.check_handovers(deps):
        if report.done and report.requested_by:
            await send_to_member(deps, report.requested_by, handover_text(deps, report, "cmd_handover_done"),
                                 f"handover:{report.handover_id}:done")


@router.event("change_external_contact", "transfer_fail")
async def on_transfer_fail(event: Event, deps: Deps) -> None:
    await handover.transfer_failed(event.get("UserID"), event.get("ExternalUserID"), event.get("FailReason"))


def handover_text(deps: Deps, report: handover.HandoverReport, template_id: str) -> str:
    reasons = "、".join(f"{_REASONS.get(r, r)} {n}" for r, n in report.reasons.items())
    records = "".join(f"\n{label}已转给接手导购：{n}" for label, n in report.moved_records.items())
    return say(deps, template_id, giver=report.handover_userid, taker=report.takeover_userid, moved=report.moved,
               waiting=report.waiting, failed=report.failed, detail=f"（{reasons}）" if reasons else "",
               records=records)


_REASONS = {"customer_refused": "客户拒绝", "customer_limit_exceed": "接手导购客户已满"}


def _at(event: Event) -> datetime:
    return datetime.fromtimestamp(event.received_at, UTC)


@command("重载配置", "reloadconfig", "重载标签规则", "reload", "reloadrules", "重载话术库", "reloadlibrary", "话术库",
         roles=OPERATORS, help="重新读取全部配置文件（标签规则、线索、SOP、话术库……；有误则全部不生效）")
async def reload_config_files(call: Call) -> str:
    try:
        reloaded = await reload_config(call.deps)
    except ConfigError as err:
        return call.say("cmd_config_invalid", detail=str(err)[-300:])
    return call.say("cmd_config_reloaded", count=reloaded.files, lines="、".join(reloaded.changed) or "无")
