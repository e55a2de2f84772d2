"""Leads reach guides as template cards, humanely: an hourly and daily budget per guide (the rest fold
into one digest card), quiet hours that hold cards until morning (best first), and reminders for
稍后提醒. Clicks on the card's buttons record what the guide did and update the card once.

Every send goes through the outbox (send-once), and a per-guide lock in Redis keeps two workers
from spending the same budget twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from bot.deps import Deps
from bot.errors import PermanentFailure
from bot.lease import exclusive
from bot.outbox import send_once
from bot.wecom import limits
from customers.models import Customer, CustomerTag, Guide, Order, Relationship
from leads.config import LEADS, LeadsConfig
from leads.models import Lead, LeadDigest, LeadStatus

__all__ = ["deliver", "flush_due", "handle_click", "build_card", "ClickOutcome", "guides_with_work"]

log = structlog.get_logger(__name__)

ACTIONS = {"contacted": LeadStatus.CONTACTED, "snooze": LeadStatus.SNOOZED, "dismiss": LeadStatus.DISMISSED}


@asynccontextmanager
async def guide_lock(deps: Deps, userid: str, *, ttl_s: float = 30.0, wait_s: float = 20.0) -> AsyncIterator[None]:
    """One delivery pass per guide at a time, across processes (budgets are read, then spent)."""
    key = f"{{{deps.settings.scrm_redis_prefix}}}:leads:guide:{userid}"
    async with exclusive(deps.redis, key, ttl_s, f"guide {userid} is busy (another worker is delivering)",
                         wait_s=wait_s):
        yield


def _local(deps: Deps, moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(deps.settings.scrm_timezone))


def _is_quiet(deps: Deps, now: datetime) -> bool:
    return deps.settings.quiet_hours.holds(now, deps.settings.scrm_timezone)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _card_context(lead: Lead) -> dict[str, Any]:
    customer = await Customer.get(id=lead.customer_id)
    relation = await Relationship.filter(customer_id=customer.id, guide__userid=lead.owner_userid).first()
    guide = await Guide.get_or_none(userid=lead.owner_userid)
    tag_names = await CustomerTag.filter(customer_id=customer.id, removed=False).distinct().values_list(
        "tag__name", flat=True
    )
    last_order = await Order.filter(customer_id=customer.id).order_by("-paid_at").first()
    return {
        "customer": customer,
        "remark": relation.remark if relation else "",
        "guide_name": guide.name if guide and guide.name else lead.owner_userid,
        "tags": sorted({str(t) for t in tag_names}),
        "last_order": last_order,
    }


async def build_card(deps: Deps, lead: Lead, seq: int) -> dict[str, Any]:
    """The button_interaction card a guide receives for ``lead`` (``seq`` > 1: a reminder)."""
    config = deps.config[LEADS]
    ctx = await _card_context(lead)
    customer: Customer = ctx["customer"]
    name = ctx["remark"] or customer.name or customer.external_userid
    pattern = config.patterns.get(lead.pattern)
    title_text = pattern.title if pattern else lead.pattern
    script = (
        pattern.script.format_map(
            {
                "customer_name": customer.name or name,
                "product": lead.facts.get("product") or config.text("card.product_unknown"),
                "guide_name": ctx["guide_name"],
                "remark": ctx["remark"],
            }
        )
        if pattern
        else ""
    )
    last_order: Order | None = ctx["last_order"]
    if last_order is not None:
        last = f"{_local(deps, last_order.paid_at):%Y-%m-%d} ¥{last_order.amount:,.0f}"
    else:
        last = config.text("card.never_bought")
    title = config.text("card.title", pattern_title=title_text, customer_name=name)
    if seq > 1:
        title = config.text("card.reminder_prefix") + title
    return {
        "card_type": "button_interaction",
        "source": {"desc": config.text("card.source")},
        "main_title": {"title": _clip(title, 36), "desc": _clip(customer.name if ctx["remark"] else "", 44)},
        "sub_title_text": _clip(lead.reason, 160),
        "horizontal_content_list": [
            {"keyname": config.text("card.remark"), "value": _clip(ctx["remark"] or "—", 26)},
            {"keyname": config.text("card.tags"), "value": _clip(" · ".join(ctx["tags"]) or "—", 26)},
            {"keyname": config.text("card.last_purchase"), "value": _clip(last, 26)},
        ],
        "quote_area": {"type": 0, "title": config.text("card.script"), "quote_text": _clip(script, 160)},
        "task_id": f"lead-{lead.id}-{seq}",
        "button_list": [
            {"text": config.text("buttons.contacted"), "style": 1, "key": f"lead:contacted:{lead.id}:{seq}"},
            {"text": config.text("buttons.snooze"), "style": 2, "key": f"lead:snooze:{lead.id}:{seq}"},
            {"text": config.text("buttons.dismiss"), "style": 3, "key": f"lead:dismiss:{lead.id}:{seq}"},
        ],
    }


async def _send_card(deps: Deps, lead: Lead, seq: int, now: datetime) -> bool:
    card = await build_card(deps, lead, seq)
    answer: dict[str, Any] = {}

    async def send() -> None:
        answer.update(await deps.wecom.send_template_card([lead.guide_userid], card))

    try:
        await send_once(f"lead-card:{lead.id}:{seq}", "lead_card", lead.guide_userid, send, deps.clock)
    except PermanentFailure as err:
        log.warning("lead_card_refused", lead_id=lead.id, to=lead.guide_userid, error=str(err)[:200])
        lead.status = LeadStatus.UNROUTED
        await lead.save(update_fields=["status"])
        return False
    lead.status, lead.card_seq = LeadStatus.SENT, seq
    lead.response_code = str(answer.get("response_code", lead.response_code))[:64]
    fields = ["status", "card_seq", "response_code"]
    if seq == 1:
        lead.sent_at = now
        fields.append("sent_at")
    await lead.save(update_fields=fields)
    log.info("lead_card_sent", lead_id=lead.id, to=lead.guide_userid, seq=seq, pattern=lead.pattern)
    return True


@dataclass(slots=True)
class DeliveryOutcome:
    sent: int = 0
    folded: int = 0
    reminded: int = 0
    digests: int = 0
    held: int = 0


async def deliver(deps: Deps, guide_userid: str) -> DeliveryOutcome:
    """Send what this guide should get now: held leads within budget (best first), due reminders,
    and a digest of what did not fit. In quiet hours everything waits."""
    outcome = DeliveryOutcome()
    if not guide_userid:
        return outcome
    config = deps.config[LEADS]
    async with guide_lock(deps, guide_userid):
        now = deps.clock.now()
        held = await Lead.filter(guide_userid=guide_userid, status=LeadStatus.HELD).order_by(
            "-priority", "-score", "created_at"
        )
        if _is_quiet(deps, now):
            outcome.held = len(held)
            return outcome
        midnight = _local(deps, now).replace(hour=0, minute=0, second=0, microsecond=0)
        sent_hour = await Lead.filter(guide_userid=guide_userid, sent_at__gt=now - timedelta(hours=1)).count()
        sent_day = await Lead.filter(guide_userid=guide_userid, sent_at__gte=midnight).count()
        budget = max(0, min(config.delivery.per_hour - sent_hour, config.delivery.per_day - sent_day))
        for lead in held[:budget]:
            outcome.sent += await _send_card(deps, lead, 1, now)
        over = [lead.id for lead in held[budget:]]
        if over:
            outcome.folded = await Lead.filter(id__in=over, status=LeadStatus.HELD).update(status=LeadStatus.FOLDED)
        due = await Lead.filter(guide_userid=guide_userid, status=LeadStatus.SNOOZED, remind_at__lte=now)
        for lead in due:
            outcome.reminded += await _send_card(deps, lead, lead.card_seq + 1, now)
        outcome.digests = await _maybe_send_digest(deps, config, guide_userid, now)
    return outcome


async def _maybe_send_digest(deps: Deps, config: LeadsConfig, guide_userid: str, now: datetime) -> int:
    folded = await Lead.filter(guide_userid=guide_userid, status=LeadStatus.FOLDED, digest_id__isnull=True).order_by(
        "-priority", "-score", "id"
    )
    if not folded:
        return 0
    if now - min(lead.created_at for lead in folded) < timedelta(minutes=config.delivery.digest_gather_minutes):
        return 0
    last = await LeadDigest.filter(guide_userid=guide_userid).order_by("-sent_at").first()
    if last is not None and now - last.sent_at < timedelta(minutes=config.delivery.digest_every_minutes):
        return 0
    first_id = min(lead.id for lead in folded)
    top = folded[:3]
    customers = await Customer.filter(id__in=[x.customer_id for x in top])
    names = {c.id: c.name or c.external_userid for c in customers}
    lines = [
        {"keyname": _clip(names.get(x.customer_id, ""), 5) or config.text("card.customer_unnamed"),
         "value": _clip(x.reason or x.pattern, 26)}
        for x in top
    ]
    card = {
        "card_type": "button_interaction",
        "source": {"desc": config.text("card.source")},
        "main_title": {"title": config.text("digest.title", count=len(folded)), "desc": config.text("digest.desc")},
        "horizontal_content_list": lines,
        "task_id": f"lead-digest-{guide_userid[:40]}-{first_id}",
        "button_list": [{"text": config.text("digest.button"), "style": 1, "key": f"lead:digest:{first_id}"}],
    }

    async def send() -> None:
        await deps.wecom.send_template_card([guide_userid], card)

    try:
        await send_once(f"lead-digest:{guide_userid}:{first_id}", "lead_digest", guide_userid, send, deps.clock)
    except PermanentFailure as err:
        log.warning("lead_digest_refused", to=guide_userid, error=str(err)[:200])
    digest = await LeadDigest.create(guide_userid=guide_userid, count=len(folded), sent_at=now)
    await Lead.filter(id__in=[x.id for x in folded]).update(digest_id=digest.id)
    log.info("lead_digest_sent", to=guide_userid, count=len(folded))
    return 1


async def guides_with_work(deps: Deps) -> list[str]:
    """Guides with held leads, due reminders, or folded leads not yet in a digest."""
    now = deps.clock.now()
    held = await Lead.filter(status=LeadStatus.HELD).distinct().values_list("guide_userid", flat=True)
    due = await Lead.filter(status=LeadStatus.SNOOZED, remind_at__lte=now).distinct().values_list(
        "guide_userid", flat=True
    )
    folded = await Lead.filter(status=LeadStatus.FOLDED, digest_id__isnull=True).distinct().values_list(
        "guide_userid", flat=True
    )
    return sorted({str(g) for g in (*held, *due, *folded) if g})


async def flush_due(deps: Deps) -> DeliveryOutcome:
    """The minute tick: morning release after quiet hours, reminders, digests."""
    total = DeliveryOutcome()
    if _is_quiet(deps, deps.clock.now()):
        return total
    for userid in await guides_with_work(deps):
        outcome = await deliver(deps, userid)
        total.sent += outcome.sent
        total.folded += outcome.folded
        total.reminded += outcome.reminded
        total.digests += outcome.digests
    return total


@dataclass(frozen=True, slots=True)
class ClickOutcome:
    result: str  # recorded / repeated / stale / foreign / unknown / digest
    lead_id: int | None = None


def _parse_key(event_key: str) -> tuple[str, int, int] | None:
    parts = event_key.split(":")
    try:
        if len(parts) == 4 and parts[0] == "lead":
            return parts[1], int(parts[2]), int(parts[3])
        if len(parts) == 3 and parts[:2] == ["lead", "digest"]:
            return "digest", int(parts[2]), 0
    except ValueError:
        return None
    return None


async def handle_click(deps: Deps, userid: str, event_key: str, response_code: str) -> ClickOutcome:
    """A guide pressed 已联系 / 稍后提醒 / 不合适 (or 查看全部 on a digest).

    The first press on the current card is recorded and the card updated once; any other press
    (an old card, someone else's, a second tap) changes nothing.
    """
    parsed = _parse_key(event_key)
    if parsed is None:
        return ClickOutcome("unknown")
    action, number, seq = parsed
    if action == "digest":
        await _send_digest_list(deps, userid, number)
        return ClickOutcome("digest")
    target = ACTIONS.get(action)
    lead = await Lead.get_or_none(id=number)
    if target is None or lead is None:
        return ClickOutcome("unknown")
    if lead.guide_userid != userid:
        log.warning("lead_click_foreign", lead_id=lead.id, by=userid)
        return ClickOutcome("foreign", lead.id)
    now = deps.clock.now()
    changes: dict[str, Any] = {"status": target, "action_at": now}
    if target is LeadStatus.CONTACTED:
        changes["contacted_at"] = now
    if target is LeadStatus.SNOOZED:
        changes["remind_at"] = now + timedelta(hours=deps.config[LEADS].delivery.snooze_hours)
    moved = await Lead.filter(id=lead.id, status=LeadStatus.SENT, card_seq=seq).update(**changes)
    if not moved:
        await lead.refresh_from_db()
        # A retry of this same press (the card update failed last time) still updates the card once.
        if not (lead.status is target and lead.card_seq == seq and target is not LeadStatus.SENT):
            log.info("lead_click_stale", lead_id=lead.id, seq=seq, status=lead.status.value)
            return ClickOutcome("stale", lead.id)
    await _update_card(deps, lead.id, seq, userid, response_code, deps.config[LEADS].text(f"replies.{action}"))
    log.info("lead_click", lead_id=lead.id, action=action, by=userid)
    return ClickOutcome("recorded" if moved else "repeated", lead.id)


async def _update_card(deps: Deps, lead_id: int, seq: int, userid: str, response_code: str, label: str) -> None:
    if not response_code:
        return

    async def send() -> None:
        await deps.wecom.update_template_card([userid], response_code, replace_name=label)

    try:
        await send_once(f"lead-card-update:{lead_id}:{seq}", "lead_card_update", userid, send, deps.clock)
    except PermanentFailure as err:
        # An expired or used response code (WeComPermanentError): the click is recorded; the card
        # just keeps its buttons. Busy and rate-limit answers are not permanent: the event retries.
        log.warning("lead_card_update_failed", lead_id=lead_id, error=str(err)[:200])


async def _send_digest_list(deps: Deps, userid: str, first_id: int) -> None:
    """查看全部 on a digest: the folded leads, as one text message."""
    config = deps.config[LEADS]
    first = await Lead.get_or_none(id=first_id)
    if first is None or first.guide_userid != userid or first.digest_id is None:
        return
    leads = await Lead.filter(digest_id=first.digest_id).order_by("-priority", "-score").select_related("customer")
    lines = [config.text("digest.list_header", count=len(leads))]
    lines += [
        f"{i}. " + config.text("digest.line", customer_name=x.customer.name or x.customer.external_userid,
                                reason=x.reason or x.pattern)
        for i, x in enumerate(leads, 1)
    ]

    # However many leads folded, each reaches the guide: the list goes out in parts of WeCom's size.
    for index, part in enumerate(limits.split("\n".join(lines), limits.TEXT_MAX_BYTES)):

        async def send(content: str = part) -> None:
            await deps.wecom.send_text([userid], content)

        key = f"lead-digest-list:{first.digest_id}" + (f":{index}" if index else "")
        await send_once(key, "lead_digest_list", userid, send, deps.clock)
