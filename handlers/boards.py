"""Leaderboards: the daily/weekly/monthly ticks and the 排行 / 我的排名 / 门店 / 订阅排行 commands."""

from __future__ import annotations

from datetime import UTC, datetime

from boards import chat
from boards.delivery import deliver_boards
from bot.commands import Arg, Call, Reply
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import cron
from operators.roles import ADMINS, EVERYONE, MANAGERS, OPERATORS

router = Router("boards")


@router.command("我的排名", "rank", "myrank", "排名", roles=EVERYONE, help="我今天和本周在排行榜上的名次")
async def my_rank(call: Call) -> str:
    return await chat.my_rank_reply(call.deps, call.caller)


@router.command("门店", "store", args=[Arg("门店", optional=True)], roles=MANAGERS, help="门店今日数据（各项指标）")
async def store_today(call: Call) -> str:
    return await chat.store_reply(call.deps, call.caller, call.args.get("门店"))


@router.command("订阅排行", "subscribe", args=[Arg("群机器人名称")], roles=ADMINS,
                help="让群机器人每天/周/月接收排行榜")
async def subscribe_board(call: Call) -> str:
    return await chat.subscribe_reply(call.deps, call.args["群机器人名称"], call.caller.userid)


PERIODS = {"日": "daily", "日榜": "daily", "今日": "daily", "day": "daily", "daily": "daily",
           "周": "weekly", "周榜": "weekly", "本周": "weekly", "week": "weekly", "weekly": "weekly",
           "月": "monthly", "月榜": "monthly", "本月": "monthly", "month": "monthly", "monthly": "monthly"}


@router.command("排行", "board", "leaderboard", "排行榜", args=[Arg("日|周|月", optional=True, choices=PERIODS)],
                roles=OPERATORS, help="当前排行榜（默认今日）")
async def board(call: Call) -> Reply:
    return Reply(await chat.board_reply(call.deps, call.args.get("日|周|月", "daily")))


def _at(event: Event) -> datetime:
    return datetime.fromtimestamp(event.received_at, UTC)


BOARD_DAILY = cron("board_daily", "scrm_board_daily_cron")


@router.tick(BOARD_DAILY)
async def on_board_daily(event: Event, deps: Deps) -> None:
    await deliver_boards(deps, "daily", _at(event))


BOARD_WEEKLY = cron("board_weekly", "scrm_board_weekly_cron")


@router.tick(BOARD_WEEKLY)
async def on_board_weekly(event: Event, deps: Deps) -> None:
    await deliver_boards(deps, "weekly", _at(event))


BOARD_MONTHLY = cron("board_monthly", "scrm_board_monthly_cron")


@router.tick(BOARD_MONTHLY)
async def on_board_monthly(event: Event, deps: Deps) -> None:
    await deliver_boards(deps, "monthly", _at(event))
