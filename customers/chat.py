"""What the customers' chat commands say: the 客户 profile and the 同步客户 job's outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from bot.commands import Call, say, send_to_member
from bot.deps import Deps
from bot.features import attributes
from customers.backfill import backfill_contacts
from customers.models import Customer
from customers.service import relationships_of
from operators.jobs import BackfillRequested, job_lease
from tagging.explain import explain_customer

__all__ = ["ProfileSection", "profile_text", "run_sync"]

# More lines for the 客户 profile (e.g. open tasks, leads): one function each, named by its
# feature's ``profile`` in bot/features.py.
ProfileSection = Callable[[Deps, Customer], Awaitable[list[str]]]


async def profile_text(call: Call, found: Customer) -> str:
    """Where the customer came from to each guide, their purchases, their tags and why, then each
    feature's section."""
    zone = ZoneInfo(call.deps.settings.scrm_timezone)
    lines = [f"客户：{found.name or '-'}（{found.external_userid}）"]
    for r in await relationships_of(found.id):
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


async def run_sync(deps: Deps, request: BackfillRequested) -> None:
    """The 同步客户 job: the backfill under its lease, then the requester is told once."""
    async with job_lease(deps, request):
        result = await backfill_contacts(deps)
    text = say(deps, "cmd_sync_done", job=request.job, members=result.members, contacts=result.contacts)
    await send_to_member(deps, request.userid, text, f"job:{request.job}:done")
