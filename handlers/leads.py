"""Leads in the queue: shop signals, the sweep and flush ticks, card clicks, customers becoming known."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.commands import Call, command
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.scheduler import every
from customers.events import ORDER, CustomerChanged, customer_changed
from customers.models import Customer, Guide, Role
from leads import delivery, service
from leads.models import OPEN_STATUSES, Lead, LeadStatus
from leads.report import attribute_orders
from leads.signals import SignalIn
from operators.handover import on_handover
from operators.roles import EVERYONE

router = Router("leads")


_STATUS_NAMES = {
    LeadStatus.SENT: "待联系",
    LeadStatus.SNOOZED: "稍后提醒",
    LeadStatus.FOLDED: "汇总中",
    LeadStatus.HELD: "待发送",
}


LIMIT = 10


@command("线索", "leads", "我的线索", roles=EVERYONE, help="我还没跟进的线索（店长：全店），按优先级")
async def open_leads(call: Call) -> str:
    deps, caller = call.deps, call.caller
    zone = ZoneInfo(deps.settings.scrm_timezone)
    query = Lead.filter(status__in=list(OPEN_STATUSES), created_at__gte=deps.clock.now() - timedelta(days=7))
    if caller.role == Role.STORE_MANAGER and caller.store_id is not None:
        members = await Guide.filter(store_id=caller.store_id).values_list("userid", flat=True)
        query = query.filter(guide_userid__in=[str(m) for m in members])
        scope = "本店"
    else:
        query = query.filter(guide_userid=caller.userid)
        scope = "你"
    leads = await query.order_by("-priority", "-score", "-created_at").select_related("customer")
    if not leads:
        return f"{scope}目前没有待跟进的线索 👍"
    lines = [f"{scope}有 {len(leads)} 条待跟进线索（近7天，按优先级）："]
    for i, lead in enumerate(leads[:LIMIT], 1):
        title = deps.config.leads.patterns[lead.pattern].title if lead.pattern in deps.config.leads.patterns else ""
        when = lead.created_at.astimezone(zone)
        lines.append(f"{i}. {lead.customer.name or lead.customer.external_userid}｜{title}｜{lead.reason or '-'}"
                     f"（{when:%m-%d %H:%M}，{_STATUS_NAMES[lead.status]}）")
    if len(leads) > LIMIT:
        lines.append(f"……另有 {len(leads) - LIMIT} 条")
    return "\n".join(lines)


async def lead_lines(deps: Deps, customer: Customer) -> list[str]:
    leads = await Lead.filter(customer_id=customer.id, status__in=list(OPEN_STATUSES)).order_by("-created_at").limit(3)
    return [f"线索：{lead.reason or lead.pattern}（{_STATUS_NAMES[lead.status]}）" for lead in leads]


# Types that may start a lead on arrival; the others only feed scores and the sweep.
_TRIGGERS = {"browse", "add_to_cart", "checkout_started", "coupon_claimed", "link_open"}


@router.on("signal")
async def on_signal(event: Event, deps: Deps) -> None:
    # Checked at intake already; the app's clock keeps "plausible" the same when time is moved.
    signal = SignalIn.model_validate(event.body, context={"now": deps.clock.now()})
    [stored] = await service.store_signals([signal], str(event.body.get("_sender", "")))
    if stored.customer_id is None:
        return  # kept; linked when the customer is added
    if signal.type == "order_paid":
        await customer_changed(deps, stored.customer_id, ORDER, event.key)
        return
    if signal.type not in _TRIGGERS:
        return
    lead = await service.evaluate_customer(deps, stored.customer_id, facts=stored.customer)
    if lead is not None and lead.guide_userid:
        await delivery.deliver(deps, lead.guide_userid)


@router.internal(CustomerChanged)
async def on_customer_changed(change: CustomerChanged, deps: Deps, key: str) -> None:
    if change.cause == ORDER:
        await attribute_orders([change.customer_id], deps.config.leads.attribution_days)
    elif change.added:
        customer = await Customer.get_or_none(id=change.customer_id)
        if customer is not None:
            await service.link_signals_to_customer(customer)


LEADS_SWEEP = every("leads_sweep", "scrm_leads_sweep_every_s")


@router.on("internal", LEADS_SWEEP.name)
async def on_leads_sweep(event: Event, deps: Deps) -> None:
    time_based = [c.name for c in deps.config.leads.patterns.values() if c.spec.sweep_types]
    for customer_id in await service.sweep_candidates(deps):
        await service.evaluate_customer(deps, customer_id, patterns=time_based)
    await delivery.flush_due(deps)


LEADS_FLUSH = every("leads_flush", "scrm_leads_flush_every_s")


@router.on("internal", LEADS_FLUSH.name)
async def on_leads_flush(event: Event, deps: Deps) -> None:
    await delivery.flush_due(deps)


@router.event("template_card_event")
async def on_card_click(event: Event, deps: Deps) -> None:
    key = str(event.get("EventKey") or "")
    if not key.startswith("lead:"):
        return  # another feature's card
    await delivery.handle_click(deps, str(event.get("FromUserName") or ""), key, str(event.get("ResponseCode") or ""))


@on_handover("线索")
async def move_open_leads(deps: Deps, old_userid: str, new_userid: str, external_userids: Sequence[str]) -> int:
    """Open leads follow their customers to the guide who takes them over."""
    customer_ids = await Customer.filter(external_userid__in=list(external_userids)).values_list("id", flat=True)
    moved: int = await Lead.filter(
        customer_id__in=list(customer_ids),
        guide_userid=old_userid,
        status__in=list(OPEN_STATUSES),
    ).update(guide_userid=new_userid, owner_userid=new_userid)
    return moved
