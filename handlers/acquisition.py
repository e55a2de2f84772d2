"""Member acquisition (添加会员): members from the intake, adds matched to members, the morning's recycling
and messages, and the 添加会员 / 会员电话 commands — thin adapters to acquisition/."""

from __future__ import annotations

import structlog

from acquisition import chat, delivery, service
from acquisition.phones import mask
from bot.commands import TEXT, Arg, Call
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import cron
from customers.events import CustomerChanged
from operators.roles import EVERYONE

router = Router("acquisition")
log = structlog.get_logger(__name__)


@router.on("member")
async def on_member(event: Event, deps: Deps) -> None:
    body = event.body
    result = await service.import_rows(deps, [(0, body)], f"intake:{body.get('_sender', '')}")
    if result.rejected:
        log.warning("member_item_rejected", reason=result.rejected[0][1], phone=mask(str(body.get("phone", ""))))


@router.internal(CustomerChanged)
async def on_customer_changed(change: CustomerChanged, deps: Deps, key: str) -> None:
    if change.added:
        await service.match_added(deps, change.customer_id)


ACQUIRE_DAILY = cron("acquire_daily", "scrm_acquire_daily_cron")


@router.tick(ACQUIRE_DAILY)
async def on_acquire_daily(event: Event, deps: Deps) -> None:
    await delivery.morning(deps)


@router.command("添加会员", "members", "addmembers", roles=EVERYONE,
                help="要添加为好友的会员（手机号已隐藏）和推荐开场白")
async def members_to_add(call: Call) -> str:
    return await chat.tasks_reply(call.deps, call.caller.userid)


@router.command("会员电话", "memberphone", args=[Arg("编号", TEXT)], roles=EVERYONE,
         help="查看自己名下一位待添加会员的完整手机号，例如「会员电话 12」")
async def member_phone(call: Call) -> str:
    return await chat.phone_reply(call.deps, call.caller.userid, str(call.args["编号"]))
