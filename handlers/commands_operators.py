"""Chat commands for operators: tag rules, re-tag, customer sync, leaderboard now, hand-over."""

from __future__ import annotations

import hashlib

from boards.board import build_boards
from boards.periods import to_date
from boards.render import APP_MARKDOWN_BYTES, render_boards
from bot.commands import MEMBER, OPERATORS, Arg, Call, CommandError, Reply, command
from bot.configfiles import ConfigError
from bot.lease import claim, release
from bot.publish import publish
from customers.handover import HandoverError, start_handover
from customers.models import Guide
from handlers.operators import JOB_LEASE_S, handover_text, job_lease_key
from tagging.reload import refresh_rules, reload_rules

PERIODS = {"日": "daily", "日榜": "daily", "今日": "daily", "day": "daily", "daily": "daily",
           "周": "weekly", "周榜": "weekly", "本周": "weekly", "week": "weekly", "weekly": "weekly",
           "月": "monthly", "月榜": "monthly", "本月": "monthly", "month": "monthly", "monthly": "monthly"}


def _job(call: Call) -> str:
    return hashlib.sha256(call.event_key.encode()).hexdigest()[:6]


@command("标签规则", "rules", "tagrules", roles=OPERATORS, help="列出自动打标签规则")
async def rules(call: Call) -> str:
    await refresh_rules(call.deps)
    ruleset = call.deps.config.tag_rules
    lines = [f"· {r.id}（{r.type_name}，{r.group}）：{r.description}" for r in ruleset.rules]
    return call.say("cmd_rules", count=len(ruleset.rules), lines="\n".join(lines))


@command("重载标签规则", "reload", "reloadrules", roles=OPERATORS, help="重新读取 tag_rules.yaml（有误则不生效）")
async def reload(call: Call) -> str:
    try:
        ruleset = await reload_rules(call.deps)
    except ConfigError as err:
        return call.say("cmd_rules_invalid", detail=str(err)[-300:])
    return call.say("cmd_rules_reloaded", count=len(ruleset.rules))


@command("重算标签", "retag", roles=OPERATORS, help="后台重算全部客户标签，完成后通知")
async def retag(call: Call) -> str:
    return await _start_once(call, "retag", "retag_requested", "cmd_retag_started", "重算标签")


@command("同步客户", "sync", "backfill", roles=OPERATORS, help="从企业微信全量同步客户（可断点续传）")
async def sync(call: Call) -> str:
    return await _start_once(call, "sync", "backfill_requested", "cmd_sync_started", "同步客户")


async def _start_once(call: Call, kind: str, event_name: str, started: str, name: str) -> str:
    """Start a long job unless one of its kind is running (in any process): then say so instead."""
    job, key = _job(call), job_lease_key(call.deps, kind)
    running = await claim(call.deps.redis, key, JOB_LEASE_S, job)
    if running is not None:
        return call.say("cmd_job_running", command=name, job=running)
    try:
        await publish(call.deps, event_name, {"userid": call.caller.userid, "job": job}, call.event_key)
    except BaseException:
        await release(call.deps.redis, key, job)
        raise
    return call.say(started, job=job)


@command("排行", "board", "leaderboard", "排行榜", args=[Arg("日|周|月", optional=True, choices=PERIODS)],
         roles=OPERATORS, help="当前排行榜（默认今日）")
async def board(call: Call) -> Reply:
    deps = call.deps
    period = to_date(call.args.get("日|周|月", "daily"), deps.clock.now(), deps.settings.scrm_timezone)
    boards = await build_boards(deps, period)
    return Reply(render_boards(deps.config.templates, boards, top=5, bottom=3, budget=APP_MARKDOWN_BYTES - 48))


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
