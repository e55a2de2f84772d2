"""Chat commands for everyone and for guides and store managers: 帮助, 客户, 我的排名, 门店."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from boards.board import build_board
from boards.config import load_metric_modules
from boards.metrics import METRICS, Level, compute
from boards.periods import to_date
from boards.render import arrow, number
from bot.commands import (
    CUSTOMER,
    EVERYONE,
    MANAGERS,
    ROLE_NAMES,
    Arg,
    Call,
    CommandError,
    command,
    commands_for,
)
from bot.deps import Deps
from bot.features import attributes
from customers.models import Customer, Relationship, Role, Store
from tagging.explain import explain_customer

# More lines for the 客户 profile (e.g. open tasks, leads): one function each, named by its
# feature's ``profile`` in bot/features.py.
ProfileSection = Callable[[Deps, Customer], Awaitable[list[str]]]


@command("帮助", "help", "?", "菜单", roles=EVERYONE, help="列出你可以使用的命令")
async def help_(call: Call) -> str:
    lines = [f"· {c.usage} — {c.help}" for c in commands_for(call.caller.role)]
    return call.say("cmd_help", name=call.caller.name, role=ROLE_NAMES[call.caller.role], lines="\n".join(lines))


@command("客户", "customer", "查客户", args=[Arg("名字|id", CUSTOMER)], roles=EVERYONE,
         help="客户档案：来源渠道、标签及原因、最近购买")
async def customer(call: Call) -> str:
    found: Customer = call.args["名字|id"]
    zone = ZoneInfo(call.deps.settings.scrm_timezone)
    relations = await Relationship.filter(customer_id=found.id).prefetch_related("guide", "channel")
    lines = [f"客户：{found.name or '-'}（{found.external_userid}）"]
    for r in relations:
        status = "已流失" if r.deleted_by_customer_at else ("已删除" if r.deleted_by_guide_at else "在联")
        channel = r.channel.name if r.channel else (r.state or "未知")
        added = r.created_at.astimezone(zone)
        lines.append(f"导购 {r.guide.name or r.guide.userid}：来源 {channel}，添加于 {added:%Y-%m-%d}（{status}）")
    if found.last_purchase_at is not None:
        lines.append(f"最近购买：{found.last_purchase_at.astimezone(zone):%Y-%m-%d}，累计 {found.order_count} 单 "
                     f"¥{found.total_spent:,.2f}")
    else:
        lines.append("最近购买：暂无购买记录")
    lines.append("标签：")
    lines += (await explain_customer(call.deps.config.tag_rules, found.external_userid))[1:]
    section: ProfileSection
    for section in attributes("profile"):
        lines += await section(call.deps, found)
    return call.say("cmd_customer", lines="\n".join(lines))


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
