"""Channel codes (渠道活码): the 渠道码 / 新建渠道码 / 我的码 / 渠道数据 commands."""

from __future__ import annotations

from bot.commands import REST, Arg, Call, CommandError, command
from bot.dispatch import Router
from channels.chat import channel_report, create_code, find_code, my_code, resolve_targets, show_code
from customers.models import Role, Store
from operators.roles import MANAGERS, OPERATORS

router = Router("channels")


@command("渠道码", "channel", "qrcode", args=[Arg("名称")], roles=MANAGERS, help="发送渠道码图片")
async def channel_code(call: Call) -> str:
    way = await find_code(call.args["名称"])
    await show_code(call.deps, call.caller.userid, way, call.event_key)
    store = await Store.get_or_none(id=way.channel.store_id) if way.channel.store_id else None
    return call.say("cmd_channel_code", name=way.channel.name, store=store.name if store else "—",
                    detail=way.channel.state)


@command("新建渠道码", "newchannel", args=[Arg("名称"), Arg("门店|导购… [活动]", REST)], roles=OPERATORS,
         help="新建渠道码：新建渠道码 春季快闪 sh01 春季活动")
async def new_channel_code(call: Call) -> str:
    targets = await resolve_targets(str(call.args["门店|导购… [活动]"]).split())
    way = await create_code(call.deps, call.caller.userid, call.args["名称"], targets)
    await show_code(call.deps, call.caller.userid, way, call.event_key)
    members = "、".join(g.name or g.userid for g in targets.guides) or (targets.store.name if targets.store else "")
    detail = f"state={way.channel.state}，成员：{members}" + (f"，活动：{targets.campaign}" if targets.campaign else "")
    return call.say("cmd_channel_created", name=way.channel.name, detail=detail)


# Guides and store managers serve customers, so they have personal codes (channels/service.py).
SERVING = frozenset({Role.GUIDE, Role.STORE_MANAGER})


@command("我的码", "mycode", "我的二维码", roles=SERVING, help="我的专属渠道码（客户扫码添加即归属于我）")
async def my_channel_code(call: Call) -> str:
    way = await my_code(call.deps, call.caller.userid)
    await show_code(call.deps, call.caller.userid, way, call.event_key)
    store = await Store.get_or_none(id=way.channel.store_id) if way.channel.store_id else None
    return call.say("cmd_my_code", name=call.caller.name, store=store.name if store else "未分配门店")


@command("渠道数据", "channels", "channelreport", args=[Arg("天数", optional=True)], roles=MANAGERS,
         help="各渠道码的新增、流失、净增、购买和销售额（默认近30天）")
async def channel_figures(call: Call) -> str:
    raw = str(call.args.get("天数", "30")).removesuffix("天")
    if not raw.isdigit() or not 1 <= int(raw) <= 366:
        raise CommandError("天数是 1 到 366 的整数，例如：渠道数据 7")
    store = None
    if call.caller.role == Role.STORE_MANAGER and call.caller.store_id is not None:
        own = await Store.get(id=call.caller.store_id)
        store = own.code
    return await channel_report(call.deps, int(raw), store)
