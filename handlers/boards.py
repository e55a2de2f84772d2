"""Leaderboards: the daily/weekly/monthly ticks and the 排行 / 我的排名 / 门店 / 订阅排行 commands."""

from __future__ import annotations

from datetime import UTC, datetime

from boards.board import build_board, build_boards
from boards.config import load_metric_modules
from boards.delivery import deliver_boards, subscribe
from boards.metrics import METRICS, Level, compute
from boards.periods import to_date
from boards.render import APP_MARKDOWN_BYTES, arrow, number, render_boards
from bot.commands import Arg, Call, CommandError, Reply, command
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import cron
from customers.models import Role, Store
from operators.roles import ADMINS, EVERYONE, MANAGERS, OPERATORS

router = Router("boards")


@command("我的排名", "rank", "myrank", "排名", roles=EVERYONE, help="我今天和本周在排行榜上的名次")
async def my_rank(call: Call) -> str:
    deps, caller = call.deps, call.caller
    metric_name = deps.config.leaderboard.metric
    level: Level = "store" if caller.role == Role.STORE_MANAGER else "guide"
    key = caller.store_id if level == "store" else caller.guide_id
    if key is None:
        raise CommandError("你还没有所属门店，无法排名")
    parts = []
    for kind, label in (("daily", "今日"), ("weekly", "本周")):
        period = to_date(kind, deps.clock.now(), deps.settings.scrm_timezone)
        board = await build_board(deps, metric_name, level, period)
        mine = next((r for r in board.rows if r.key == key), None)
        if mine is None:
            raise CommandError("排行榜上没有你（只统计在职的导购和店长）")
        who = "门店" if level == "store" else ""
        parts.append(f"{label}{who}第 {mine.rank}/{len(board.rows)} 名（{board.metric.label} "
                     f"{number(board.metric, mine.value)}）")
    return call.say("cmd_my_rank", name=caller.name, lines="；".join(parts).removeprefix("今日"))


@command("门店", "store", args=[Arg("门店", optional=True)], roles=MANAGERS, help="门店今日数据（各项指标）")
async def store_today(call: Call) -> str:
    deps, caller = call.deps, call.caller
    store: Store | None
    if call.args.get("门店"):
        token = call.args["门店"]
        store = await Store.get_or_none(code=token) or await Store.filter(name__icontains=token).first()
        if store is not None and caller.role == Role.STORE_MANAGER and store.id != caller.store_id:
            raise CommandError("店长只能查看自己门店的数据")
    else:
        store = await Store.get_or_none(id=caller.store_id) if caller.store_id else None
    if store is None:
        raise CommandError("没有找到门店（可加门店编码或名称：门店 sh01）")
    period = to_date("daily", deps.clock.now(), deps.settings.scrm_timezone)
    load_metric_modules()
    lines = []
    for metric in METRICS.values():
        today = await compute(metric.name, "store", period.start, period.end)
        before = await compute(metric.name, "store", period.previous_start, period.start)
        value = today.get(store.id, 0.0)
        lines.append(f"· {metric.label}：{number(metric, value)}（昨日 {number(metric, before.get(store.id, 0.0))}）"
                     f" {arrow(metric, value - before.get(store.id, 0.0))}")
    return call.say("cmd_store", store=store.name, lines="\n".join(lines))


@command("订阅排行", "subscribe", args=[Arg("群机器人名称")], roles=ADMINS, help="让群机器人每天/周/月接收排行榜")
async def subscribe_board(call: Call) -> str:
    robot = call.args["群机器人名称"]
    known = call.deps.settings.robot_keys()
    if robot not in known:
        raise CommandError(call.say("cmd_unknown_robot", robot=robot, detail="、".join(known) or "无"))
    created = await subscribe(robot, call.caller.userid, call.deps.clock.now())
    return call.say("cmd_subscribed" if created else "cmd_already_subscribed", robot=robot)


PERIODS = {"日": "daily", "日榜": "daily", "今日": "daily", "day": "daily", "daily": "daily",
           "周": "weekly", "周榜": "weekly", "本周": "weekly", "week": "weekly", "weekly": "weekly",
           "月": "monthly", "月榜": "monthly", "本月": "monthly", "month": "monthly", "monthly": "monthly"}


@command("排行", "board", "leaderboard", "排行榜", args=[Arg("日|周|月", optional=True, choices=PERIODS)],
         roles=OPERATORS, help="当前排行榜（默认今日）")
async def board(call: Call) -> Reply:
    deps = call.deps
    period = to_date(call.args.get("日|周|月", "daily"), deps.clock.now(), deps.settings.scrm_timezone)
    boards = await build_boards(deps, period)
    return Reply(render_boards(deps.config.templates, boards, top=5, bottom=3, budget=APP_MARKDOWN_BYTES - 48))


BOARD_DAILY = cron("board_daily", "scrm_board_daily_cron")



def _at(event: Event) -> datetime:
    return datetime.fromtimestamp(event.received_at, UTC)


@router.on("internal", BOARD_DAILY.name)
async def on_board_daily(event: Event, deps: Deps) -> None:
    await deliver_boards(deps, "daily", _at(event))


BOARD_WEEKLY = cron("board_weekly", "scrm_board_weekly_cron")


@router.on("internal", BOARD_WEEKLY.name)
async def on_board_weekly(event: Event, deps: Deps) -> None:
    await deliver_boards(deps, "weekly", _at(event))


BOARD_MONTHLY = cron("board_monthly", "scrm_board_monthly_cron")


@router.on("internal", BOARD_MONTHLY.name)
async def on_board_monthly(event: Event, deps: Deps) -> None:
    await deliver_boards(deps, "monthly", _at(event))
