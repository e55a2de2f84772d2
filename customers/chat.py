"""What the customers' chat commands say: the 客户 profile and the 同步客户 job's outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from bot.commands import Call, say, send_to_member
from bot.deps import Deps
from bot.feature import attributes
from customers.backfill import backfill_contacts
from customers.models import Customer
from customers.service import relationships_of
from operators.jobs import BackfillRequested, job_lease
from tagging.config import TAG_RULES
from tagging.report import explain_customer

__all__ = ["ProfileSection", "profile_text", "run_sync"]

# More lines for the 客户 profile (e.g. open tasks, leads): one function each, named by its
# feature's ``profile`` (bot/feature.py).
ProfileSection = Callable[[Deps, Customer], Awaitable[list[str]]]


async def profile_text(call: Call, found: Customer) -> str:
    """Where the customer came from to each guide, their purchases, their tags and why, then each
    feature's section."""
    deps = call.deps
    zone = ZoneInfo(deps.settings.scrm_timezone)
    lines = [say(deps, "profile_header", customer_name=found.name or "-", external_userid=found.external_userid)]
    for r in await relationships_of(found.id):
        status = "lost" if r.deleted_by_customer_at else ("deleted" if r.deleted_by_guide_at else "active")
        channel = r.channel.name if r.channel else (r.state or say(deps, "profile_channel_unknown"))
        added = f"{r.created_at.astimezone(zone):%Y-%m-%d}"
        lines.append(say(deps, "profile_relation", guide_name=r.guide.name or r.guide.userid, channel=channel,
                         date=added, status=say(deps, f"profile_status_{status}")))
    if found.last_purchase_at is not None:
        lines.append(say(deps, "profile_purchase", date=f"{found.last_purchase_at.astimezone(zone):%Y-%m-%d}",
                         count=found.order_count, amount=f"{found.total_spent:,.2f}"))
    else:
        lines.append(say(deps, "profile_no_purchase"))
    lines.append(say(deps, "profile_tags"))
    lines += (await explain_customer(deps.config[TAG_RULES], found.external_userid))[1:]
    section: ProfileSection
    for section in attributes("profile"):
        lines += await section(deps, found)
    return call.say("cmd_customer", lines="\n".join(lines))


async def run_sync(deps: Deps, request: BackfillRequested) -> None:
    """The 同步客户 job: the backfill under its lease, then the requester is told once."""
    async with job_lease(deps, request):
        result = await backfill_contacts(deps)
    text = say(deps, "cmd_sync_done", job=request.job, members=result.members, contacts=result.contacts)
    await send_to_member(deps, request.userid, text, f"job:{request.job}:done")
