"""What the 线索 command answers and the lines leads add to the 客户 profile; the texts are
config/leads.yaml's (``texts.chat``, ``texts.status``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.commands import Caller
from bot.deps import Deps
from customers.models import Customer, Role
from leads import service
from leads.config import LEADS, LeadsConfig
from leads.models import Lead

__all__ = ["lead_lines", "open_leads_reply"]

LIMIT = 10  # leads listed in one reply; the rest are counted


def _status(config: LeadsConfig, lead: Lead) -> str:
    return config.text(f"status.{lead.status.value}")


async def open_leads_reply(deps: Deps, caller: Caller) -> str:
    """``线索``: the caller's open leads of the last week (a store manager: the whole store's), best first."""
    config = deps.config[LEADS]
    zone = ZoneInfo(deps.settings.scrm_timezone)
    store_wide = caller.role == Role.STORE_MANAGER and caller.store_id is not None
    leads = await service.open_leads(deps.clock.now(), caller.userid, caller.store_id if store_wide else None)
    scope = config.text("chat.scope_store" if store_wide else "chat.scope_mine")
    if not leads:
        return config.text("chat.none", scope=scope)
    lines = [config.text("chat.header", scope=scope, count=len(leads))]
    for i, lead in enumerate(leads[:LIMIT], 1):
        pattern = config.patterns.get(lead.pattern)
        line = config.text(
            "chat.line",
            customer_name=lead.customer.name or lead.customer.external_userid,
            pattern_title=pattern.title if pattern else "",
            reason=lead.reason or "-",
            time=f"{lead.created_at.astimezone(zone):%m-%d %H:%M}",
            status=_status(config, lead),
        )
        lines.append(f"{i}. {line}")
    if len(leads) > LIMIT:
        lines.append(config.text("chat.more", count=len(leads) - LIMIT))
    return "\n".join(lines)


async def lead_lines(deps: Deps, customer: Customer) -> list[str]:
    """The 客户 profile's lines: the customer's newest open leads."""
    config = deps.config[LEADS]
    return [
        config.text("chat.profile", reason=lead.reason or lead.pattern, status=_status(config, lead))
        for lead in await service.customer_open_leads(customer.id)
    ]
