"""Campaigns: the 群发 chat commands, the results sync, scheduled campaigns and guide behaviour — thin adapters."""

from __future__ import annotations

from bot.commands import REST, Arg, Call
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import cron, every
from campaigns import behaviour, chat, moments, scheduled, service
from operators.roles import OPERATORS

router = Router("campaigns")


@router.command("群发", "campaign", args=[Arg("内容", REST)], roles=OPERATORS,
         help="预览一次客户群发：群发 <名称> 标签=<标签> 内容=<文字>；再发「确认群发 <名称>」才发送")
async def campaign_preview(call: Call) -> str:
    # The message as typed: the text keeps its punctuation (the parsed argument has it normalised).
    typed = chat.after_command(call.text, str(call.args["内容"]))
    return await chat.preview_reply(call.deps, call.caller.userid, typed)


@router.command("确认群发", "campaign confirm", args=[Arg("名称", REST)], roles=OPERATORS, help="发送已预览的群发")
async def campaign_confirm(call: Call) -> str:
    return await chat.confirm_reply(call.deps, call.caller.userid, str(call.args["名称"]))


CAMPAIGN_SYNC = every("campaign_sync", "scrm_campaign_sync_every_s")


@router.tick(CAMPAIGN_SYNC)
async def on_campaign_sync(event: Event, deps: Deps) -> None:
    await service.sync(deps)
    await moments.sync_recent(deps)


CAMPAIGN_SCHEDULE = every("campaign_schedule", "scrm_campaign_schedule_every_s")


@router.tick(CAMPAIGN_SCHEDULE)
async def on_campaign_schedule(event: Event, deps: Deps) -> None:
    await scheduled.send_due(deps)


BEHAVIOUR_DAILY = cron("guide_behaviour", "scrm_behaviour_cron")


@router.tick(BEHAVIOUR_DAILY)
async def on_guide_behaviour(event: Event, deps: Deps) -> None:
    await behaviour.run_daily(deps)
