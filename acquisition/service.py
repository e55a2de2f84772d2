"""Members in, a guide and an add task for each, adds matched back to them, tasks recycled.

Plain inputs; every write is keyed by the member id, so an import or an event replayed changes nothing.
Phones are handled as E.164 and only ever logged or shown masked (``acquisition.phones.mask``).
"""

from __future__ import annotations

import hashlib
import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from tortoise.functions import Count, Sum

from acquisition.config import ACQUISITION
from acquisition.models import Member, TaskStatus
from acquisition.phones import PhoneRejected, mask, normalise
from bot.deps import Deps
from bot.wecom.errors import NotExternalContact
from customers.models import ChannelCode, Customer, Guide, Order, OrderItem, Relationship, Role, Signal, Store
from customers.orders import link_orders_to_customer
from leads.models import MemberIdentity

__all__ = [
    "CAME_BY_CODE",
    "CAME_BY_GUIDE",
    "CAME_BY_LINK",
    "TEMPLATES",
    "ImportResult",
    "Match",
    "MemberRow",
    "RowRejected",
    "RecycleResult",
    "assign_open",
    "import_rows",
    "match_added",
    "open_tasks",
    "parse_row",
    "recycle",
    "task_phone",
]

log = structlog.get_logger(__name__)

CAME_BY_LINK, CAME_BY_CODE, CAME_BY_GUIDE = "link", "code", "guide"
# The channel a matched add is attributed to when it came through no code: state → its name's template.
WAY_CHANNELS = {
    CAME_BY_LINK: ("acq_link", "acquire_channel_link"),
    CAME_BY_GUIDE: ("acq_guide", "acquire_channel_guide"),
}
_CHUNK = 1000
TEMPLATES = tuple(template for _state, template in WAY_CHANNELS.values())


class RowRejected(ValueError):
    """This row is not imported; the message is the reason the operator reads."""


@dataclass(frozen=True, slots=True)
class MemberRow:
    member_id: str
    phone: str  # E.164
    name: str
    store: str
    guide: str = ""
    unionid: str = ""

    @property
    def digest(self) -> str:
        text = "\x1f".join((self.phone, self.name, self.store, self.guide, self.unionid))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _field(item: Mapping[str, Any], name: str, limit: int) -> str:
    value = item.get(name)
    text = "" if value is None else str(value).strip()
    if len(text) > limit:
        raise RowRejected(f"{name} is longer than {limit} characters")
    return text


def parse_row(item: Mapping[str, Any]) -> MemberRow:
    """One CSV row or intake item; what is wrong with it is the RowRejected's message."""
    member_id = _field(item, "member_id", 64)
    if not member_id:
        raise RowRejected("member_id is required")
    try:
        phone = normalise(_field(item, "phone", 32))
    except PhoneRejected as err:
        raise RowRejected(str(err)) from None
    store = _field(item, "store", 32)
    if not store:
        raise RowRejected("store is required")
    return MemberRow(member_id, phone, _field(item, "name", 64), store, _field(item, "guide", 64),
                     _field(item, "unionid", 64))


@dataclass(slots=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    already_contacts: int = 0
    assigned: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)

    @property
    def stored(self) -> int:
        return self.created + self.updated + self.unchanged


async def import_rows(
    deps: Deps, rows: Iterable[tuple[int, Mapping[str, Any]]], batch: str, *, assign: bool = True
) -> ImportResult:
    """Import numbered rows: the bad ones rejected by number, the good ones created or updated in place,
    then every member not yet anyone's contact given a guide of their store (``assign``)."""
    result = ImportResult()
    parsed: dict[str, tuple[int, MemberRow]] = {}
    stores = dict(await Store.all().values_list("code", "id"))
    guides = {g.userid: g for g in await Guide.filter(active=True)}
    for number, item in rows:
        try:
            row = parse_row(item)
            if row.member_id in parsed:
                raise RowRejected(f"duplicate member id {row.member_id} (row {parsed[row.member_id][0]})")
            if row.store not in stores:
                raise RowRejected(f"unknown store {row.store}")
            if row.guide and (row.guide not in guides or guides[row.guide].store_id != stores[row.store]):
                raise RowRejected(f"guide {row.guide} is no active guide of store {row.store}")
        except RowRejected as err:
            result.rejected.append((number, str(err)))
            continue
        parsed[row.member_id] = (number, row)
    now = deps.clock.now()
    ids = list(parsed)
    touched: list[str] = []  # the member ids created or changed: only they may need a guide
    for start in range(0, len(ids), _CHUNK):
        chunk = [parsed[i][1] for i in ids[start : start + _CHUNK]]
        touched.extend(await _store_chunk(chunk, stores, batch, now, result))
    if result.rejected:
        log.info("members_rows_rejected", count=len(result.rejected), first_row=result.rejected[0][0])
    if assign:
        result.already_contacts = await link_existing_contacts(touched)
        result.assigned = await assign_open(now, {stores[parsed[i][1].store] for i in touched})
    log.info("members_imported", batch=batch[:64], created=result.created, updated=result.updated,
             unchanged=result.unchanged, rejected=len(result.rejected), assigned=result.assigned)
    return result


async def _store_chunk(
    chunk: Sequence[MemberRow], stores: Mapping[str, int], batch: str, now: datetime, result: ImportResult
) -> list[str]:
    """Create the new members and update the changed ones; their member ids."""
    known = {m.member_id: m for m in await Member.filter(member_id__in=[r.member_id for r in chunk])}
    fresh: list[Member] = []
    touched: list[str] = []
    for row in chunk:
        member = known.get(row.member_id)
        if member is None:
            fresh.append(Member(member_id=row.member_id, phone=row.phone, name=row.name, store_id=stores[row.store],
                                unionid=row.unionid or None, wanted_guide=row.guide, batch=batch[:64],
                                digest=row.digest, imported_at=now))
            continue
        if member.digest == row.digest:
            result.unchanged += 1
            continue
        values: dict[str, Any] = {"phone": row.phone, "name": row.name, "store_id": stores[row.store],
                                  "unionid": row.unionid or None, "wanted_guide": row.guide, "digest": row.digest}
        moved = member.store_id != stores[row.store] or (row.guide and row.guide != member.wanted_guide)
        if moved and member.task_status == TaskStatus.OPEN:
            # Another store, or another guide asked for: the task is given again.
            values |= {"guide_id": None, "task_status": TaskStatus.NONE, "assigned_at": None}
        await Member.filter(id=member.id).update(**values)
        result.updated += 1
        touched.append(row.member_id)
    if fresh:
        await Member.bulk_create(fresh, batch_size=_CHUNK)
        result.created += len(fresh)
    return touched + [m.member_id for m in fresh]


async def link_existing_contacts(member_ids: Sequence[str]) -> int:
    """Of these members, those whose unionid is already a customer's with a guide: nothing to add, only linked."""
    linked = 0
    waiting: list[Any] = []
    for start in range(0, len(member_ids), _CHUNK):
        waiting += await Member.filter(member_id__in=list(member_ids[start : start + _CHUNK]), customer_id__isnull=True,
                                       unionid__not_isnull=True, task_status__in=[TaskStatus.NONE, TaskStatus.OPEN]
                                       ).values_list("id", "unionid")
    for start in range(0, len(waiting), _CHUNK):
        chunk = dict(waiting[start : start + _CHUNK])
        customers = dict(await Customer.filter(unionid__in=list(chunk.values())).values_list("unionid", "id"))
        if not customers:
            continue
        active = set(await Relationship.filter(
            customer_id__in=list(customers.values()), deleted_by_customer_at__isnull=True,
            deleted_by_guide_at__isnull=True, half=False,
        ).values_list("customer_id", flat=True))
        for member_id, unionid in chunk.items():
            customer_id = customers.get(unionid)
            if customer_id in active:
                linked += await Member.filter(id=member_id, customer_id__isnull=True).update(
                    customer_id=customer_id, task_status=TaskStatus.NONE, matched_by="import", guide_id=None)
    return linked


async def _member_value(unionids: Sequence[str]) -> dict[str, Decimal]:
    """What each member has spent (orders keyed by unionid): best customers are given out first."""
    values: dict[str, Decimal] = {}
    for start in range(0, len(unionids), _CHUNK):
        rows = await Order.filter(unionid__in=list(unionids[start : start + _CHUNK])).group_by("unionid").annotate(
            spent=Sum("amount")).values_list("unionid", "spent")
        values.update({str(u): Decimal(s or 0) for u, s in rows})
    return values


async def _open_counts(store_id: int) -> dict[int, int]:
    rows = await Member.filter(store_id=store_id, task_status=TaskStatus.OPEN).group_by("guide_id").annotate(
        n=Count("id")).values_list("guide_id", "n")
    return {int(g): int(n) for g, n in rows if g is not None}


async def assign_open(now: datetime, store_ids: Iterable[int] | None = None) -> int:
    """Give every member not yet a contact, and without a task, a guide of their store: the ``guide``
    column's when given, else the store's active guide with the fewest open tasks, best customers first."""
    assigned = 0
    if store_ids is None:  # every store with a member waiting for a guide
        waiting_in: list[Any] = await Member.filter(
            task_status=TaskStatus.NONE, customer_id__isnull=True, parked_at__isnull=True, matched_by=""
        ).distinct().values_list("store_id", flat=True)
        store_ids = [int(s) for s in waiting_in]
    for store_id in sorted(store_ids):
        guides = await Guide.filter(store_id=store_id, active=True, role=Role.GUIDE).order_by("id")
        by_userid = {g.userid: g for g in guides}
        waiting = await Member.filter(store_id=store_id, task_status=TaskStatus.NONE, customer_id__isnull=True,
                                      parked_at__isnull=True, matched_by="").values_list("id", "unionid",
                                                                                          "wanted_guide")
        if not guides or not waiting:
            if waiting:
                log.warning("members_without_guides", store_id=store_id, members=len(waiting))
            continue
        value = await _member_value([u for _, u, _ in waiting if u])
        ranked = sorted(waiting, key=lambda m: (-value.get(m[1] or "", Decimal(0)), m[0]))
        counts = await _open_counts(store_id)
        plan: dict[int, list[int]] = defaultdict(list)
        for member_id, _unionid, wanted in ranked:
            if wanted in by_userid:  # the `guide` column wins; it counts towards that guide's share
                plan[by_userid[wanted].id].append(member_id)
                counts[by_userid[wanted].id] = counts.get(by_userid[wanted].id, 0) + 1
        heap = [(counts.get(g.id, 0), index, g.id) for index, g in enumerate(guides)]
        heapq.heapify(heap)
        for member_id, _unionid, wanted in ranked:
            if wanted in by_userid:
                continue
            count, index, guide_id = heapq.heappop(heap)
            plan[guide_id].append(member_id)
            heapq.heappush(heap, (count + 1, index, guide_id))
        for guide_id, member_ids in plan.items():
            for start in range(0, len(member_ids), _CHUNK):
                assigned += await Member.filter(
                    id__in=member_ids[start : start + _CHUNK], task_status=TaskStatus.NONE
                ).update(guide_id=guide_id, task_status=TaskStatus.OPEN, assigned_at=now)
    return assigned


# --- matching adds -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    member_id: str
    matched_by: str  # state / unionid / phone
    came_by: str  # link / code / guide


def _follow_of(contact: Mapping[str, Any], userid: str) -> Mapping[str, Any]:
    follows = contact.get("follow_user") or []
    return next((f for f in follows if isinstance(f, Mapping) and f.get("userid") == userid), {})


def _phones(follow: Mapping[str, Any]) -> list[str]:
    phones = []
    for text in follow.get("remark_mobiles") or []:
        try:
            phones.append(normalise(str(text)))
        except PhoneRejected:
            continue  # a landline or a foreign number the guide noted: no member has it
    return phones


async def _candidate(state: str, unionid: str, phones: Sequence[str], userid: str) -> tuple[Member, str] | None:
    unmatched = Member.filter(customer_id__isnull=True)
    if state:
        member = await unmatched.filter(member_id=state).first()
        if member is not None:
            return member, "state"
    if unionid:
        member = await unmatched.filter(unionid=unionid).order_by("id").first()
        if member is not None:
            return member, "unionid"
    if phones:
        # Several members may share a phone (a family's till card): the one this guide was to add first.
        found = await unmatched.filter(phone__in=list(phones)).prefetch_related("guide").order_by("id")
        if found:
            mine = [m for m in found if m.guide is not None and m.guide.userid == userid]
            return (mine or found)[0], "phone"
    return None


async def match_added(deps: Deps, customer_id: int) -> Match | None:
    """A customer was added: the member they are, by the add's ``state`` (a link or code made for that
    member), their unionid, or a phone the guide recorded (``remark_mobiles``); None when no member."""
    if not await Member.filter(customer_id__isnull=True).exists():
        return None  # the brand imports no members (or all are matched): no extra call to WeCom
    relation = await Relationship.filter(customer_id=customer_id, deleted_by_customer_at__isnull=True,
                                         deleted_by_guide_at__isnull=True).order_by("-created_at").prefetch_related(
        "guide", "customer").first()
    if relation is None:
        return None
    customer: Customer = relation.customer
    userid = relation.guide.userid
    try:
        contact = await deps.wecom.get_external_contact(customer.external_userid)
    except NotExternalContact:
        return None
    follow = _follow_of(contact, userid)
    state = str(follow.get("state") or relation.state or "")
    unionid = str((contact.get("external_contact") or {}).get("unionid") or customer.unionid or "")
    found = await _candidate(state, unionid, _phones(follow), userid)
    if found is None:
        return None
    member, matched_by = found
    came_by = CAME_BY_LINK if matched_by == "state" else CAME_BY_CODE if relation.channel_id else CAME_BY_GUIDE
    done = await Member.filter(id=member.id, customer_id__isnull=True).update(
        customer_id=customer_id, added_at=relation.created_at, added_by=userid, matched_by=matched_by, came_by=came_by,
        task_status=TaskStatus.DONE)
    if not done:
        return None  # matched by a concurrent handling of the same add
    await _link_identity(member, customer)
    if relation.channel_id is None:
        await _attribute_channel(deps, relation, came_by)
    log.info("member_added", member_id=member.member_id, userid=userid, matched_by=matched_by, came_by=came_by,
             phone=mask(member.phone))
    return Match(member.member_id, matched_by, came_by)


async def _link_identity(member: Member, customer: Customer) -> None:
    """Orders and signals keyed by the member id or the member's unionid now reach this customer."""
    await MemberIdentity.update_or_create(member_id=member.member_id, defaults={
        "external_userid": customer.external_userid, "unionid": member.unionid or customer.unionid})
    # Shop signals kept with only the member id (leads/) now find their customer too.
    await Signal.filter(member_id=member.member_id, customer_id__isnull=True).update(customer_id=customer.id)
    if member.unionid and not customer.unionid:
        await Customer.filter(id=customer.id).update(unionid=member.unionid)
        customer.unionid = member.unionid
    await link_orders_to_customer(customer)


async def _attribute_channel(deps: Deps, relation: Relationship, came_by: str) -> None:
    """The customer's channel says how they came: 获客链接 or 导购添加 (a code's own channel stays)."""
    state, template = WAY_CHANNELS[came_by]
    name = deps.config.templates.render(template)
    channel, _ = await ChannelCode.get_or_create(state=state, defaults={"name": name})
    await Relationship.filter(id=relation.id, channel_id__isnull=True).update(channel_id=channel.id,
                                                                            state=relation.state or state)


# --- recycling ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class RecycleResult:
    moved: int = 0
    parked: int = 0


async def recycle(deps: Deps) -> RecycleResult:
    """Open tasks older than ``acquire_recycle_days`` go to another active guide of the same store (the
    one with fewest open tasks who has not had it), at most ``acquire_max_recycles`` times, then park.
    A moved task starts its days again, so one run moves a task once."""
    conf = deps.config[ACQUISITION]
    now = deps.clock.now()
    result = RecycleResult()
    stale = await Member.filter(task_status=TaskStatus.OPEN,
                                assigned_at__lt=now - timedelta(days=conf.acquire_recycle_days)).prefetch_related(
        "guide").order_by("id")
    by_store: dict[int, list[Member]] = defaultdict(list)
    for member in stale:
        by_store[member.store_id].append(member)
    for store_id, members in by_store.items():
        guides = await Guide.filter(store_id=store_id, active=True, role=Role.GUIDE).order_by("id")
        counts = await _open_counts(store_id)
        for member in members:
            current = member.guide.userid if member.guide is not None else ""
            others = [g for g in guides if g.userid != current]
            fresh = [g for g in others if g.userid not in member.past_guides] or others
            if member.recycled >= conf.acquire_max_recycles or not fresh:
                result.parked += await Member.filter(id=member.id, task_status=TaskStatus.OPEN).update(
                    task_status=TaskStatus.PARKED, parked_at=now)
                continue
            taker = min(fresh, key=lambda g: (counts.get(g.id, 0), g.id))
            moved = await Member.filter(id=member.id, task_status=TaskStatus.OPEN, guide_id=member.guide_id).update(
                guide_id=taker.id, assigned_at=now, recycled=member.recycled + 1,
                past_guides=[*member.past_guides, current] if current else member.past_guides)
            if moved:
                counts[taker.id] = counts.get(taker.id, 0) + 1
                if member.guide_id is not None:
                    counts[member.guide_id] = counts.get(member.guide_id, 1) - 1
                result.moved += 1
    log.info("member_tasks_recycled", moved=result.moved, parked=result.parked)
    return result


# --- what guides see ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddTask:
    id: int
    member_id: str
    name: str
    masked_phone: str
    bought: str  # what the member bought (product names of their orders), "" when unknown
    store_name: str
    assigned_at: datetime


async def _bought(unionids: Sequence[str]) -> dict[str, str]:
    """Up to three product names a member bought, latest first (orders keyed by their unionid)."""
    if not unionids:
        return {}
    rows: list[Any] = await OrderItem.filter(order__unionid__in=list(unionids)).order_by(
        "-order__paid_at", "id").values_list("order__unionid", "product_name")
    names: dict[str, list[str]] = defaultdict(list)
    for unionid, product in rows:
        seen = names[str(unionid)]
        if product and product not in seen and len(seen) < 3:
            seen.append(str(product))
    return {u: "、".join(n) for u, n in names.items()}


async def open_tasks(userid: str, limit: int) -> tuple[int, list[AddTask]]:
    """A guide's open add tasks (how many, and the oldest ``limit`` of them)."""
    query = Member.filter(guide__userid=userid, task_status=TaskStatus.OPEN)
    total = await query.count()
    members = await query.order_by("assigned_at", "id").limit(limit).prefetch_related("store")
    bought = await _bought([m.unionid for m in members if m.unionid])
    return total, [AddTask(m.id, m.member_id, m.name, mask(m.phone), bought.get(m.unionid or "", ""), m.store.name,
                           m.assigned_at or m.imported_at) for m in members]


async def task_phone(userid: str, task_id: int) -> str | None:
    """The full phone of one of this guide's open tasks (for WeCom's 添加客户 by phone); None otherwise."""
    member = await Member.get_or_none(id=task_id, guide__userid=userid, task_status=TaskStatus.OPEN)
    if member is None:
        return None
    log.info("member_phone_shown", userid=userid, task_id=task_id, phone=mask(member.phone))
    return member.phone
