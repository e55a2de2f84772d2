"""Signals in, leads out: store a signal, find its customer, score, run the patterns, create a lead
for the right guide; and the open leads a guide is asked about or hands over. Plain inputs; the
queue handlers in handlers/leads.py only call these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from bot.deps import Deps
from customers.events import ORDER, CustomerChanged, customer_changed
from customers.models import Customer, Guide, Relationship, Role, Signal
from customers.orders import OrderIn, OrderLine, record_orders
from leads import delivery
from leads.config import LEADS, LeadsConfig, PatternConf
from leads.kinds import Activity, Finding, cart_amount, unpaid_cart
from leads.models import OPEN_STATUSES, Lead, LeadStatus, MemberIdentity
from leads.report import attribute_orders
from leads.scoring import score_signals
from leads.signals import SignalIn
from leads.store import CustomerFacts, find_customers, insert_signals, recent_signals
from predict.value import value_weight

__all__ = [
    "StoredSignal",
    "store_signals",
    "activity_of",
    "evaluate_customer",
    "Route",
    "route_lead",
    "link_signals_to_customer",
    "sweep_candidates",
    "describe_activity",
    "signal_arrived",
    "follow_customer_change",
    "sweep",
    "open_leads",
    "customer_open_leads",
    "move_open_leads",
]

log = structlog.get_logger(__name__)

# Leads that reached (or are waiting for) the guide: they start a customer's cool-down.
SURFACED = (
    LeadStatus.HELD, LeadStatus.SENT, LeadStatus.FOLDED, LeadStatus.CONTACTED, LeadStatus.SNOOZED,
    LeadStatus.DISMISSED,
)


@dataclass(frozen=True, slots=True)
class StoredSignal:
    signal: SignalIn
    customer: CustomerFacts | None

    @property
    def customer_id(self) -> int | None:
        return self.customer.id if self.customer is not None else None


async def _resolve(signals: Sequence[SignalIn]) -> dict[str, CustomerFacts]:
    """event_id → customer, by external_userid, then unionid, then member_id's mapping."""
    members = {s.member_id for s in signals if s.member_id and not (s.external_userid or s.unionid)}
    mapped: dict[str, tuple[str | None, str | None]] = {}
    if members:
        rows = await MemberIdentity.filter(member_id__in=list(members)).values_list(
            "member_id", "external_userid", "unionid"
        )
        mapped = {m: (e, u) for m, e, u in rows}
    ext_ids = {s.external_userid for s in signals if s.external_userid}
    unionids = {s.unionid for s in signals if s.unionid}
    for ext, union in mapped.values():
        if ext:
            ext_ids.add(ext)
        if union:
            unionids.add(union)
    found = await find_customers(sorted(ext_ids), sorted(unionids))
    by_ext = {c.external_userid: c for c in found}
    by_union = {c.unionid: c for c in found if c.unionid}
    result: dict[str, CustomerFacts] = {}
    for s in signals:
        ext, union = s.external_userid, s.unionid
        if not (ext or union) and s.member_id in mapped:
            ext, union = mapped[s.member_id]
        customer = by_ext.get(ext or "") or by_union.get(union or "")
        if customer is not None:
            result[s.event_id] = customer
    return result


async def _learn_member_ids(signals: Iterable[SignalIn]) -> None:
    """A signal carrying member_id with a WeChat id teaches us the mapping for member-only signals."""
    for s in signals:
        if s.member_id and (s.external_userid or s.unionid):
            await MemberIdentity.update_or_create(
                member_id=s.member_id, defaults={"external_userid": s.external_userid, "unionid": s.unionid}
            )


async def store_signals(signals: Sequence[SignalIn], source: str) -> list[StoredSignal]:
    """Keep every signal once (by event_id), linked to its customer when known; ``order_paid``
    also becomes an order, so RFM and lifecycle see it. Returns each signal with its customer."""
    await _learn_member_ids(signals)
    customers = await _resolve(signals)
    for start in range(0, len(signals), 500):
        chunk = signals[start : start + 500]
        await insert_signals([(s, customers[s.event_id].id if s.event_id in customers else None) for s in chunk],
                             source)
    ids = {event_id: c.id for event_id, c in customers.items()}
    orders = [_order_of(s, ids, source) for s in signals if s.type == "order_paid"]
    await record_orders([o for o in orders if o is not None])
    return [StoredSignal(s, customers.get(s.event_id)) for s in signals]


def _order_of(signal: SignalIn, customers: Mapping[str, int], sender: str) -> OrderIn | None:
    if not (signal.external_userid or signal.unionid) and signal.event_id not in customers:
        return None  # a member id nobody has mapped yet: the signal is kept, the order cannot be linked
    line = OrderLine(
        signal.product_id, signal.product_name, signal.category, signal.quantity or 1, signal.price or Decimal("0")
    )
    return OrderIn(
        order_id=signal.order_id or signal.event_id,
        amount=signal.amount or Decimal("0"),
        paid_at=signal.occurred_at,
        external_userid=signal.external_userid or "",
        unionid=signal.unionid or "",
        store_code=signal.store_code,
        guide_userid=signal.guide_userid or "",
        source="signal",
        lines=(line,) if signal.product_id or signal.category else (),
        sender=sender,  # the same shop's order_paid signal and its /intake/orders post are one order
    )


async def link_signals_to_customer(customer: Customer) -> int:
    """Signals that arrived before the customer was added (by external_userid, unionid or member id)."""
    condition = Q(external_userid=customer.external_userid)
    if customer.unionid:
        condition |= Q(unionid=customer.unionid)
        members = await MemberIdentity.filter(
            Q(external_userid=customer.external_userid) | Q(unionid=customer.unionid)
        ).values_list("member_id", flat=True)
    else:
        members = await MemberIdentity.filter(external_userid=customer.external_userid).values_list(
            "member_id", flat=True
        )
    if members:
        condition |= Q(member_id__in=list(members))
    linked: int = await Signal.filter(condition, customer_id__isnull=True).update(customer_id=customer.id)
    return linked


async def activity_of(config: LeadsConfig, customer: CustomerFacts, now: datetime, timezone: str) -> Activity:
    signals = await recent_signals(customer.id, now - timedelta(days=config.lookback_days), now)
    return Activity(
        customer_id=customer.id,
        now=now,
        timezone=ZoneInfo(timezone),
        signals=signals,
        scores=score_signals(signals, config.weights, config.half_life_hours, now),
        first_seen_at=customer.first_seen_at,
        last_purchase_at=customer.last_purchase_at,
    )


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}".rstrip("0").rstrip(".")


def describe_activity(config: LeadsConfig, activity: Activity, finding: Finding) -> tuple[str, dict[str, Any]]:
    """What happened, in one line a guide reads ("近24小时浏览「轻羽拖鞋」3次，加购未付款 ¥199"), and the facts."""
    facts: dict[str, Any] = dict(finding.facts)
    parts: list[str] = []
    if "dormant_days" in facts:
        parts.append(config.text("activity.dormant", dormant_days=facts["dormant_days"]))
    day = activity.since(24)
    browses = [s for s in day if s.type == "browse" and s.product_id]
    if browses:
        counts: dict[str, int] = {}
        for s in browses:
            counts[s.product_id] = counts.get(s.product_id, 0) + 1
        top = max(counts, key=lambda p: (counts[p], activity.scores.by_product.get(p, 0.0)))
        name = next(s.product_name for s in reversed(browses) if s.product_id == top) or top
        facts.setdefault("product", name)
        parts.append(config.text("activity.browse", product=name, browse_count=counts[top]))
    cart = unpaid_cart(activity, 48)
    if cart:
        amount = cart_amount(cart)
        facts.setdefault("product", cart[-1].product_name or cart[-1].product_id)
        facts["cart_amount"] = _money(amount)
        parts.append(config.text("activity.cart", cart_amount=_money(amount), product=facts["product"]))
    if any(s.type == "checkout_started" for s in day) and not any(s.type == "order_paid" for s in day):
        parts.append(config.text("activity.checkout"))
    if "coupon_hours" in facts:
        parts.append(config.text("activity.coupon", coupon_hours=facts["coupon_hours"]))
    if any(s.type == "link_open" for s in day):
        parts.append(config.text("activity.link"))
    if "product" not in facts and activity.scores.by_product:
        top_id = activity.scores.top_product()
        facts["product"] = next(
            (s.product_name for s in reversed(activity.signals) if s.product_id == top_id and s.product_name), top_id
        )
    facts["score"] = activity.scores.total
    return "，".join(parts)[:256], facts


@dataclass(frozen=True, slots=True)
class Route:
    recipient: str  # who gets the card ("" = nobody)
    owner: str  # whose customer it is
    store_code: str


async def route_lead(config: LeadsConfig, customer_id: int) -> Route:
    """The owning guide; the store manager or pool when the owner left; nobody if the customer
    deleted every guide."""
    relations = await Relationship.filter(customer_id=customer_id, deleted_by_customer_at__isnull=True).select_related(
        "guide", "guide__store"
    )
    if not relations:
        return Route("", "", "")
    serving = [r for r in relations if r.deleted_by_guide_at is None and r.guide.active]
    candidates = serving or relations

    def store_of(rel: Relationship) -> str:
        store = rel.guide.store
        return store.code if store is not None else ""

    policy = config.routing_for(store_of(candidates[0]))
    ordered = sorted(candidates, key=lambda r: (r.created_at, r.id))
    chosen = ordered[-1] if policy == "most_recent" else ordered[0]
    store_code = store_of(chosen)
    if serving:
        return Route(chosen.guide.userid, chosen.guide.userid, store_code)
    # The owner left or removed the customer: the store's pool, else its manager, takes the lead.
    fallback = config.pools.get(store_code, "")
    if not fallback and chosen.guide.store_id:
        manager = await Guide.filter(
            store_id=chosen.guide.store_id, role=Role.STORE_MANAGER, active=True
        ).first()
        fallback = manager.userid if manager else ""
    return Route(fallback, chosen.guide.userid, store_code)


def _findings(
    config: LeadsConfig, activity: Activity, only: Iterable[str] | None
) -> list[tuple[PatternConf, Finding]]:
    wanted = set(only) if only is not None else None
    found = []
    for conf in config.patterns.values():  # highest priority first
        if wanted is not None and conf.name not in wanted:
            continue
        finding = conf.spec.detect(activity, conf.params)
        if finding is not None:
            found.append((conf, finding))
    return found


async def evaluate_customer(
    deps: Deps, customer_id: int, *, patterns: Iterable[str] | None = None, facts: CustomerFacts | None = None
) -> Lead | None:
    """Run the patterns on the customer's recent activity; create at most one lead (the best new finding).

    Idempotent: the lead key is (customer, pattern, occurrence). A customer with a lead in the last
    ``cooldown_hours`` gets no new one unless the score jumped ``score_jump`` times.
    """
    config = deps.config[LEADS]
    now = deps.clock.now()
    customer = facts or await _facts_of(customer_id)
    if customer is None:
        return None
    activity = await activity_of(config, customer, now, deps.settings.scrm_timezone)
    findings = _findings(config, activity, patterns)
    if not findings:
        return None
    keyed = {f"{customer_id}:{conf.name}:{finding.occurrence}"[:160]: (conf, finding) for conf, finding in findings}
    known: set[str] = {str(k) for k in await Lead.filter(key__in=list(keyed)).values_list("key", flat=True)}
    # The best fact not yet turned into a lead; a fact already seen never makes a second one.
    fresh = [(key, pair) for key, pair in keyed.items() if key not in known]
    if known:
        await _refresh_held(config, activity, customer_id, sorted(known), await value_weight(customer_id))
    if not fresh:
        return None
    key, (conf, finding) = fresh[0]
    reason, lead_facts = describe_activity(config, activity, finding)
    score = activity.scores.total * await value_weight(customer_id)  # intent, weighed by predicted value
    status = LeadStatus.HELD
    recent = (
        await Lead.filter(
            customer_id=customer_id,
            status__in=list(SURFACED),
            created_at__gte=now - timedelta(hours=config.delivery.cooldown_hours),
        )
        .order_by("-score")
        .first()
    )
    if recent is not None and score < recent.score * config.delivery.score_jump:
        status = LeadStatus.SUPPRESSED
    route = await route_lead(config, customer_id)
    if not route.recipient and status is LeadStatus.HELD:
        status = LeadStatus.UNROUTED
    try:
        lead = await Lead.create(
            key=key,
            customer_id=customer_id,
            pattern=conf.name,
            priority=conf.priority,
            score=score,
            guide_userid=route.recipient,
            owner_userid=route.owner,
            store_code=route.store_code,
            reason=reason,
            facts=lead_facts,
            status=status,
            created_at=now,
        )
    except IntegrityError:  # another worker made the same lead a moment ago
        return await Lead.get(key=key)
    log.info("lead_created", lead_id=lead.id, customer_id=customer_id, pattern=conf.name, status=status.value,
             score=round(activity.scores.total, 2), to=route.recipient or None)
    return lead


async def _facts_of(customer_id: int) -> CustomerFacts | None:
    row = await Customer.get_or_none(id=customer_id).values(
        "id", "external_userid", "unionid", "first_seen_at", "last_purchase_at"
    )
    return CustomerFacts(**row) if row else None


async def _refresh_held(
    config: LeadsConfig, activity: Activity, customer_id: int, keys: list[str], weight: float = 1.0
) -> None:
    """A lead still waiting (quiet hours) goes out with what the customer did since, not before."""
    held = await Lead.filter(customer_id=customer_id, key__in=keys, status=LeadStatus.HELD)
    for lead in held:
        finding = next(
            (f for c, f in _findings(config, activity, [lead.pattern]) if lead.key.endswith(f":{f.occurrence}")), None
        )
        if finding is None:
            continue
        lead.reason, lead.facts = describe_activity(config, activity, finding)
        lead.score = activity.scores.total * weight
        await lead.save(update_fields=["reason", "facts", "score"])


async def sweep_candidates(deps: Deps) -> list[int]:
    """Customers a time-based pattern may fire for now (a cart left for hours, a coupon about to expire)."""
    config = deps.config[LEADS]
    now = deps.clock.now()
    found: set[int] = set()
    for conf in config.patterns.values():
        spec = conf.spec
        if not spec.sweep_types:
            continue
        ids = await Signal.filter(
            type__in=list(spec.sweep_types),
            customer_id__isnull=False,
            occurred_at__gte=now - timedelta(hours=spec.sweep_hours),
        ).distinct().values_list("customer_id", flat=True)
        found.update(int(i) for i in ids)  # type: ignore[call-overload]
    return sorted(found)


# --- what the queue handlers call (handlers/leads.py) ----------------------------------------------

# Types that may start a lead on arrival; the others only feed scores and the sweep.
TRIGGERS = frozenset({"browse", "add_to_cart", "checkout_started", "coupon_claimed", "link_open"})


async def signal_arrived(deps: Deps, signal: SignalIn, sender: str, key: str) -> Lead | None:
    """A live shop signal: kept; a paid order tells the other features (``CustomerChanged``); a
    triggering type may make a lead, whose card goes out at once (within the guide's budget)."""
    [stored] = await store_signals([signal], sender)
    if stored.customer_id is None:
        return None  # kept; linked when the customer is added
    if signal.type == "order_paid":
        await customer_changed(deps, stored.customer_id, ORDER, key)
        return None
    if signal.type not in TRIGGERS:
        return None
    lead = await evaluate_customer(deps, stored.customer_id, facts=stored.customer)
    if lead is not None and lead.guide_userid:
        await delivery.deliver(deps, lead.guide_userid)
    return lead


async def follow_customer_change(deps: Deps, change: CustomerChanged) -> None:
    """An order may convert a contacted lead; a newly added customer takes the signals sent before."""
    if change.cause == ORDER:
        await attribute_orders([change.customer_id], deps.config[LEADS].attribution_days)
    elif change.added:
        customer = await Customer.get_or_none(id=change.customer_id)
        if customer is not None:
            await link_signals_to_customer(customer)


async def sweep(deps: Deps) -> None:
    """The periodic sweep: time-based patterns (a cart left for hours …), then due cards go out."""
    time_based = [c.name for c in deps.config[LEADS].patterns.values() if c.spec.sweep_types]
    for customer_id in await sweep_candidates(deps):
        await evaluate_customer(deps, customer_id, patterns=time_based)
    await delivery.flush_due(deps)


# --- open leads: the 线索 command, the 客户 profile, a hand-over -------------------------------------

OPEN_DAYS = 7  # the 线索 command lists the open leads of the last week


async def open_leads(now: datetime, userid: str, store_id: int | None = None) -> list[Lead]:
    """Open leads of the last week, best first (with their customers): the guide's own, or with
    ``store_id`` those of every guide of that store."""
    query = Lead.filter(status__in=list(OPEN_STATUSES), created_at__gte=now - timedelta(days=OPEN_DAYS))
    if store_id is not None:
        members = await Guide.filter(store_id=store_id).values_list("userid", flat=True)
        query = query.filter(guide_userid__in=[str(m) for m in members])
    else:
        query = query.filter(guide_userid=userid)
    return list(await query.order_by("-priority", "-score", "-created_at").select_related("customer"))


async def customer_open_leads(customer_id: int, limit: int = 3) -> list[Lead]:
    """A customer's newest open leads."""
    return list(
        await Lead.filter(customer_id=customer_id, status__in=list(OPEN_STATUSES)).order_by("-created_at").limit(limit)
    )


async def move_open_leads(old_userid: str, new_userid: str, external_userids: Sequence[str]) -> int:
    """Open leads follow their customers to the guide who takes them over."""
    customer_ids = await Customer.filter(external_userid__in=list(external_userids)).values_list("id", flat=True)
    moved: int = await Lead.filter(
        customer_id__in=list(customer_ids),
        guide_userid=old_userid,
        status__in=list(OPEN_STATUSES),
    ).update(guide_userid=new_userid, owner_userid=new_userid)
    return moved
