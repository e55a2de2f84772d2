"""Leads in the queue: shop signals, the sweep and flush ticks, card clicks, customers becoming
known, the 线索 command and the hand-over hook — thin adapters to leads/."""

from __future__ import annotations

from collections.abc import Sequence

from bot.commands import Call
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import every
from customers.events import CustomerChanged
from leads import chat, delivery, service
from leads.signals import SignalIn
from operators.roles import EVERYONE

router = Router("leads")


@router.command("线索", "leads", "我的线索", roles=EVERYONE, help="我还没跟进的线索（店长：全店），按优先级")
async def open_leads(call: Call) -> str:
    return await chat.open_leads_reply(call.deps, call.caller)


@router.on("signal")
async def on_signal(event: Event, deps: Deps) -> None:
    # Checked at intake already; the app's clock keeps "plausible" the same when time is moved.
    signal = SignalIn.model_validate(event.body, context={"now": deps.clock.now()})
    await service.signal_arrived(deps, signal, str(event.body.get("_sender", "")), event.key)


@router.internal(CustomerChanged)
async def on_customer_changed(change: CustomerChanged, deps: Deps, key: str) -> None:
    await service.follow_customer_change(deps, change)


LEADS_SWEEP = every("leads_sweep", "scrm_leads_sweep_every_s")


@router.tick(LEADS_SWEEP)
async def on_leads_sweep(event: Event, deps: Deps) -> None:
    await service.sweep(deps)


LEADS_FLUSH = every("leads_flush", "scrm_leads_flush_every_s")


@router.tick(LEADS_FLUSH)
async def on_leads_flush(event: Event, deps: Deps) -> None:
    await delivery.flush_due(deps)


@router.event("template_card_event")
async def on_card_click(event: Event, deps: Deps) -> None:
    key = event.get("EventKey")
    if not key.startswith("lead:"):
        return  # another feature's card
    await delivery.handle_click(deps, event.get("FromUserName"), key, event.get("ResponseCode"))


@router.on_handover("线索")
async def move_open_leads(deps: Deps, old_userid: str, new_userid: str, external_userids: Sequence[str]) -> int:
    """Open leads follow their customers to the guide who takes them over."""
    return await service.move_open_leads(old_userid, new_userid, external_userids)
