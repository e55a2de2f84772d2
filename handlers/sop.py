"""SOP: the scheduled ticks, a customer's change, and digest card clicks — thin adapters to sop/."""

from __future__ import annotations

from collections.abc import Sequence

from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import cron
from customers.events import CustomerChanged
from customers.handover import on_handover
from customers.models import Customer, Guide
from sop import service
from sop.models import SopTask, TaskStatus
from sop.notify import notice

router = Router("sop")


SOP_TICK = cron("sop_tick", "scrm_sop_tick_cron")


@router.on("internal", SOP_TICK.name)
async def on_sop_tick(event: Event, deps: Deps) -> None:
    await service.run_tick(deps)


SOP_DIGEST = cron("sop_digest", "scrm_sop_digest_cron")


@router.on("internal", SOP_DIGEST.name)
async def on_sop_digest(event: Event, deps: Deps) -> None:
    await service.run_tick(deps)  # today's steps first, then the list
    await notice(deps, "digest")


SOP_REMINDER = cron("sop_reminder", "scrm_sop_reminder_cron")


@router.on("internal", SOP_REMINDER.name)
async def on_sop_reminder(event: Event, deps: Deps) -> None:
    await notice(deps, "reminder")


SOP_ESCALATION = cron("sop_escalation", "scrm_sop_escalation_cron")


@router.on("internal", SOP_ESCALATION.name)
async def on_sop_escalation(event: Event, deps: Deps) -> None:
    await notice(deps, "escalation")


@router.internal(CustomerChanged)
async def on_customer_changed(change: CustomerChanged, deps: Deps, key: str) -> None:
    await service.sweep_customers(deps, [change.customer_id])


@router.event("template_card_event")
async def on_card_click(event: Event, deps: Deps) -> None:
    # Lead cards share this event: their keys start with "lead:" and are ignored here.
    await service.complete_from_card(deps, event.get("FromUserName"), event.get("EventKey"))


@on_handover("SOP待办")
async def move_open_tasks(deps: Deps, old_userid: str, new_userid: str, external_userids: Sequence[str]) -> int:
    """Open SOP tasks follow their customers to the guide who takes them over."""
    giver = await Guide.get_or_none(userid=old_userid)
    taker = await Guide.get_or_none(userid=new_userid)
    if giver is None or taker is None:
        return 0
    customer_ids = await Customer.filter(external_userid__in=list(external_userids)).values_list("id", flat=True)
    moved: int = await SopTask.filter(
        guide_id=giver.id, customer_id__in=list(customer_ids), status=TaskStatus.OPEN
    ).update(guide_id=taker.id)
    return moved
