"""Channel codes (渠道活码): the 渠道码 / 新建渠道码 / 我的码 / 渠道数据 commands, and the codes following
the organisation (``OrgChanged``) — thin adapters to channels/."""

from __future__ import annotations

from bot.commands import REST, Arg, Call
from bot.deps import Deps
from bot.dispatch import Router
from channels import chat
from channels.service import sync_channels
from customers.models import Role
from operators.roles import MANAGERS, OPERATORS
from orgsync.events import OrgChanged

router = Router("channels")


@router.command("渠道码", "channel", "qrcode", args=[Arg("名称")], roles=MANAGERS, help="发送渠道码图片")
async def channel_code(call: Call) -> str:
    return await chat.channel_code_reply(call.deps, call.caller, call.args["名称"], call.event_key)


@router.command("新建渠道码", "newchannel", args=[Arg("名称"), Arg("门店|导购… [活动]", REST)], roles=OPERATORS,
                help="新建渠道码：新建渠道码 春季快闪 sh01 春季活动")
async def new_channel_code(call: Call) -> str:
    words = str(call.args["门店|导购… [活动]"]).split()
    return await chat.new_code_reply(call.deps, call.caller.userid, call.args["名称"], words, call.event_key)


# Guides and store managers serve customers, so they have personal codes (channels/service.py).
SERVING = frozenset({Role.GUIDE, Role.STORE_MANAGER})


@router.command("我的码", "mycode", "我的二维码", roles=SERVING, help="我的专属渠道码（客户扫码添加即归属于我）")
async def my_channel_code(call: Call) -> str:
    return await chat.my_code_reply(call.deps, call.caller, call.event_key)


@router.command("渠道数据", "channels", "channelreport", args=[Arg("天数", optional=True)], roles=MANAGERS,
                help="各渠道码的新增、流失、净增、购买和销售额（默认近30天）")
async def channel_figures(call: Call) -> str:
    return await chat.channel_report_reply(call.deps, call.caller, str(call.args.get("天数", "30")))


@router.internal(OrgChanged)
async def on_org_changed(change: OrgChanged, deps: Deps, key: str) -> None:
    """Codes, boards, routing and SOP read stores and guides from the database: only the codes need work."""
    await sync_channels(deps)
