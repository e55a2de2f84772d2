"""Campaigns with plain inputs: create one (content checked first), preview its audience, plan it (targets,
holdout, cap), send it through each customer's guide, sync the results, remind, cancel. Every step may be
run again: planning inserts each customer once (a unique key), and each WeCom task is sent once (the outbox)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.deps import Deps
from bot.outbox import send_once_or_skip
from bot.sqldialect import Dialect, SqlParams, connection
from bot.wecom.errors import WeComPermanentError
from campaigns import wecomapi
from campaigns.audience import Audience, CustomerRange, arm_sql, cap_for, capped_sql, picked_sql, typed
from campaigns.delivery import ContentError, attachments_payload, check_content, render_text
from campaigns.models import Arm, Campaign, CampaignTarget, CampaignTask, TargetStatus, TaskState
from customers.models import Customer, Guide

__all__ = [
    "Audience", "CampaignSpec", "ContentError", "Dispatched", "Preview", "Reminded", "SyncResult", "by_name", "cancel",
    "check_content", "create", "dispatch", "plan", "plan_pairs", "preview", "remind", "send", "sync",
]

log = structlog.get_logger(__name__)

# add_msg_template takes at most 10,000 customers a call.
CHUNK = 10_000
# A plan over more customer ids than this is split into this many statements run at once (PostgreSQL).
PLAN_PARTS = 2
PLAN_SPLIT_MIN = 100_000
# Tasks whose pages are read from WeCom at once, and tasks whose results are written at once.
SYNC_CONCURRENCY = 8
SYNC_WRITERS = 4


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    name: str
    audience: Audience
    text: str
    attachments: tuple[str, ...] = ()  # sidebar library item ids
    holdout_pct: float | None = None  # None: the setting
    source: str = "cli"
    created_by: str = ""
    playbook: str = ""
    step: str = ""


@dataclass(frozen=True, slots=True)
class Preview:
    by_guide: dict[str, int]  # userid -> customers pushed through them
    holdout: int
    capped: int

    @property
    def customers(self) -> int:
        return sum(self.by_guide.values())


def _cap(deps: Deps) -> tuple[int, datetime]:
    settings = deps.settings
    return cap_for(settings.scrm_campaign_cap_period, settings.scrm_campaign_cap_count, deps.clock.now(),
                   settings.scrm_timezone)


async def preview(deps: Deps, name: str, audience: Audience, holdout_pct: float | None = None) -> Preview:
    """How many customers the audience is, per guide, held out and at the cap: nothing is written."""
    conn = connection()
    sql = SqlParams(Dialect.of(conn))
    cap, period_start = _cap(deps)
    pct = deps.settings.scrm_campaign_holdout_pct if holdout_pct is None else holdout_pct
    picked = picked_sql(audience, sql)
    capped = capped_sql(sql, period_start)
    arm = arm_sql(name, pct, cap, sql)
    rows = await conn.execute_query_dict(
        f"WITH {picked}, {capped} SELECT g.userid, {arm} AS arm, COUNT(*) AS n FROM picked p "
        "JOIN guide g ON g.id = p.guide_id LEFT JOIN capped k ON k.customer_id = p.customer_id GROUP BY 1, 2",
        sql.values,
    )
    by_guide: dict[str, int] = {}
    holdout = capped_n = 0
    for row in rows:
        n = int(row["n"])
        if row["arm"] == Arm.TREATED:
            by_guide[str(row["userid"])] = n
        elif row["arm"] == Arm.HOLDOUT:
            holdout += n
        else:
            capped_n += n
    return Preview(dict(sorted(by_guide.items())), holdout, capped_n)


async def create(deps: Deps, spec: CampaignSpec) -> Campaign:
    """The campaign row (its content checked against WeCom's limits); the existing one on a re-run."""
    existing = await Campaign.get_or_none(name=spec.name)
    if existing is not None:
        return existing
    check_content(deps, spec.text, spec.attachments)
    pct = deps.settings.scrm_campaign_holdout_pct if spec.holdout_pct is None else spec.holdout_pct
    try:
        return await Campaign.create(
            name=spec.name, source=spec.source, text=spec.text, attachments=[{"item": i} for i in spec.attachments],
            audience=spec.audience.as_json(), holdout_pct=pct, window_days=deps.settings.scrm_campaign_window_days,
            playbook=spec.playbook, step=spec.step, created_by=spec.created_by, created_at=deps.clock.now(),
        )
    except IntegrityError:  # the same campaign created at the same moment by another process
        return await Campaign.get(name=spec.name)


async def plan(deps: Deps, campaign: Campaign) -> int:
    """One target row per customer of the audience (treated, holdout or capped); a re-run adds nothing.
    On PostgreSQL a big audience is planned by PLAN_PARTS statements at once, each over a range of customer ids
    on its own connection (one INSERT … SELECT runs on one core); each part commits on its own, and a re-run
    after a crash adds the customers still missing."""
    conn = connection()
    before = await CampaignTarget.filter(campaign_id=campaign.id).count()
    now = deps.clock.now().replace(microsecond=0)
    parts: list[CustomerRange | None] = [None]
    own = not isinstance(conn, TransactionalDBClient)  # not inside a caller's transaction
    if Dialect.of(conn).name == "postgres" and own:
        [row] = await conn.execute_query_dict("SELECT MIN(id) AS first, MAX(id) AS last FROM customer")
        if row["first"] is not None and int(row["last"]) - int(row["first"]) >= PLAN_SPLIT_MIN:
            first, end = int(row["first"]), int(row["last"]) + 1
            step = -(-(end - first) // PLAN_PARTS)
            parts = [(start, min(start + step, end)) for start in range(first, end, step)]
    await asyncio.gather(*(_plan_part(deps, campaign, now, part, tune=own) for part in parts))
    await _mark_sent_at(campaign, now)
    return await CampaignTarget.filter(campaign_id=campaign.id).count() - before


async def _plan_part(
    deps: Deps, campaign: Campaign, now: datetime, customers: CustomerRange | None, *, tune: bool
) -> None:
    """One INSERT … SELECT of the customers in the range not planned yet. Without ON CONFLICT (its check costs an
    index search per row): a plan of the same campaign racing this one makes it fail, and it runs again with it."""
    for on_conflict in (False, True):
        try:
            async with in_transaction() as conn:
                dialect = Dialect.of(conn)
                if dialect.name == "postgres" and tune:  # SET LOCAL would outlive a savepoint: own transactions only
                    # Rows in customer order (merge joins all along: the indexes are written in order, not at
                    # random), sorts in memory, and no JIT compile for a statement this plain.
                    await conn.execute_script(
                        "SET LOCAL enable_hashjoin = off; SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
                sql = SqlParams(dialect)
                cap, period_start = _cap(deps)
                picked = picked_sql(Audience.from_json(campaign.audience), sql, customers)
                capped = capped_sql(sql, period_start, customers)
                arm = arm_sql(campaign.name, campaign.holdout_pct, cap, sql)
                campaign_id = int(campaign.id)
                await conn.execute_query(
                    f"WITH {picked}, {capped} INSERT INTO campaign_target "
                    "(campaign_id, customer_id, guide_id, arm, status, msgid, counted_at) "
                    f"SELECT {campaign_id}, p.customer_id, p.guide_id, {arm}, 'planned', '', {typed(sql, now)} "
                    "FROM picked p LEFT JOIN capped k ON k.customer_id = p.customer_id WHERE NOT EXISTS (SELECT 1 "
                    f"FROM campaign_target x WHERE x.campaign_id = {campaign_id} AND x.customer_id = p.customer_id) "
                    "ORDER BY p.customer_id"
                    + (" ON CONFLICT (campaign_id, customer_id) DO NOTHING" if on_conflict else ""),
                    sql.values,
                )
            return
        except IntegrityError:
            if on_conflict:
                raise
            log.info("campaign_plan_raced", campaign=campaign.name, customers=customers)


async def plan_pairs(deps: Deps, campaign: Campaign, guide_id: int, customer_ids: list[int]) -> int:
    """Targets chosen elsewhere (an SOP step's tasks): these customers through this guide, the cap applied."""
    conn = connection()
    sql = SqlParams(Dialect.of(conn))
    cap, period_start = _cap(deps)
    now = deps.clock.now().replace(microsecond=0)
    capped = capped_sql(sql, period_start)
    arm = arm_sql(campaign.name, campaign.holdout_pct, cap, sql)
    listed = ",".join(str(int(i)) for i in customer_ids) or "NULL"
    await conn.execute_query(
        f"WITH picked AS (SELECT c.id AS customer_id, {int(guide_id)} AS guide_id FROM customer c "
        f"WHERE c.id IN ({listed})), {capped} INSERT INTO campaign_target "
        "(campaign_id, customer_id, guide_id, arm, status, msgid, counted_at) "
        f"SELECT {int(campaign.id)}, p.customer_id, p.guide_id, {arm}, 'planned', '', {typed(sql, now)} "
        "FROM picked p LEFT JOIN capped k ON k.customer_id = p.customer_id WHERE 1 = 1 "
        "ON CONFLICT (campaign_id, customer_id) DO NOTHING",
        sql.values,
    )
    await _mark_sent_at(campaign, now)
    return len(customer_ids)


async def _mark_sent_at(campaign: Campaign, now: datetime) -> None:
    if campaign.sent_at is None:
        campaign.sent_at = now
        await Campaign.filter(id=campaign.id, sent_at=None).update(sent_at=now)


@dataclass(slots=True)
class Dispatched:
    tasks: int = 0
    customers: int = 0
    failed: int = 0  # in a task's fail_list
    refused: list[str] = field(default_factory=list)  # guides WeCom refused a task for


async def dispatch(deps: Deps, campaign: Campaign) -> Dispatched:
    """One add_msg_template per guide (≤ 10,000 customers each) for the treated targets not in a task yet."""
    result = Dispatched()
    if campaign.cancelled_at is not None:
        return result
    rows = await CampaignTarget.filter(campaign_id=campaign.id, arm=Arm.TREATED, msgid="", status=TargetStatus.PLANNED
                                       ).order_by("guide_id", "customer_id").values_list(
        "id", "guide_id", "customer__external_userid")
    by_guide: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for target_id, guide_id, external_userid in rows:
        by_guide[int(guide_id)].append((int(target_id), str(external_userid)))
    if not by_guide:
        return result
    guides = {g.id: g for g in await Guide.filter(id__in=list(by_guide)).prefetch_related("store")}
    attachments = await attachments_payload(deps, [str(a["item"]) for a in campaign.attachments])
    for guide_id, targets in by_guide.items():
        guide = guides[guide_id]
        text = render_text(campaign.text, guide)
        done = await CampaignTask.filter(campaign_id=campaign.id, sender=guide.userid).count()
        for index, start in enumerate(range(0, len(targets), CHUNK)):
            chunk = targets[start:start + CHUNK]
            sent = await _send_task(deps, campaign, guide.userid, done + index, chunk, text, attachments)
            if sent is None:
                result.refused.append(guide.userid)
                continue
            result.tasks += 1
            result.customers += len(chunk) - sent
            result.failed += sent
    log.info("campaign_dispatched", campaign=campaign.name, tasks=result.tasks, customers=result.customers,
             failed=result.failed, refused=len(result.refused))
    return result


async def _send_task(
    deps: Deps, campaign: Campaign, sender: str, chunk_no: int, chunk: list[tuple[int, str]], text: str,
    attachments: list[dict[str, Any]],
) -> int | None:
    """One WeCom task, once: its msgid on the targets, its fail_list as not friends. The fail count, or None."""
    failed: list[str] = []

    async def send() -> None:
        answer = await deps.wecom.add_msg_template(sender, [ext for _, ext in chunk], text, attachments)
        msgid = str(answer.get("msgid") or "")
        failed.extend(str(ext) for ext in answer.get("fail_list") or [])
        await CampaignTask.create(
            campaign_id=campaign.id, sender=sender, chunk=chunk_no, msgid=msgid, fail_list=failed,
            customers=len(chunk), created_at=deps.clock.now(),
        )
        ids = [target_id for target_id, _ in chunk]
        for start in range(0, len(ids), 1000):
            await CampaignTarget.filter(id__in=ids[start:start + 1000]).update(msgid=msgid)
        if failed:
            await CampaignTarget.filter(campaign_id=campaign.id, customer_id__in=await _customer_ids(failed)).update(
                status=TargetStatus.NOT_FRIEND)

    key = f"campaign:{campaign.id}:{sender}:{chunk_no}"
    if not await send_once_or_skip(key, "campaign_mass", sender, send, deps.clock):
        return None
    return len(failed)


async def send(deps: Deps, spec: CampaignSpec) -> tuple[Campaign, Dispatched]:
    """Create (or find), plan and dispatch: what ``scrm campaign send`` and a confirmed 群发 do."""
    campaign = await create(deps, spec)
    await plan(deps, campaign)
    return campaign, await dispatch(deps, campaign)


# --- results ------------------------------------------------------------------------------------

_SEP, _SEP_SQL = "\x1f", "chr(31)"  # the unit separator between the ids of a task's results
_RESULT = {0: TargetStatus.UNSENT, 1: TargetStatus.SENT, 2: TargetStatus.NOT_FRIEND, 3: TargetStatus.OVER_LIMIT}


@dataclass(slots=True)
class SyncResult:
    tasks: int = 0
    sent: int = 0  # tasks found sent by their guide
    expired: int = 0
    results: int = 0  # customer results read
    unknown: int = 0  # mass messages WeCom lists that no campaign made
    refused: int = 0  # tasks WeCom refused to tell about (logged)


async def _open_tasks(campaign: Campaign | None) -> list[CampaignTask]:
    query = CampaignTask.filter(state=TaskState.OPEN).exclude(msgid="")
    if campaign is not None:
        query = query.filter(campaign_id=campaign.id)
    return await query.order_by("id")


async def sync(deps: Deps, campaign: Campaign | None = None) -> SyncResult:
    """Read each open task's status and, once its guide sent it, every customer's result (all pages);
    a task not sent within the sync window expires. The tick runs it for all campaigns."""
    result = SyncResult()
    now = deps.clock.now()
    tasks = await _open_tasks(campaign)
    if not tasks:
        return result
    expire_before = now - timedelta(days=deps.settings.scrm_campaign_sync_days)
    # A few tasks read at once, and a task's results are written after its read slot is free: reading WeCom's pages
    # and writing ours overlap, so the sync goes at WeCom's pace. ``held`` bounds what is read and not yet written.
    reads, writes, held = (asyncio.Semaphore(SYNC_CONCURRENCY), asyncio.Semaphore(SYNC_WRITERS),
                           asyncio.Semaphore(2 * SYNC_CONCURRENCY))

    async def one(task: CampaignTask) -> None:
        async with held:
            result.tasks += 1  # a task WeCom refuses to tell about counts too (and in ``refused``)
            try:
                async with reads:
                    read = await _read_task(deps, task)
            except WeComPermanentError as err:  # this task only (an msgid WeCom no longer knows): the rest go on
                log.warning("campaign_task_sync_refused", msgid=task.msgid, sender=task.sender, error=str(err)[:200])
                result.refused += 1
                return
            async with writes:
                await _write_task(task, read, now, expire_before, result)

    async def unknown() -> None:
        result.unknown = await _count_unknown(deps, tasks, now)

    async with asyncio.TaskGroup() as group:
        group.create_task(unknown())  # WeCom's list of mass messages, read beside the tasks
        for task in tasks:
            group.create_task(one(task))
    log.info("campaign_synced", tasks=result.tasks, sent=result.sent, expired=result.expired, results=result.results,
             unknown=result.unknown)
    return result


@dataclass(frozen=True, slots=True)
class _TaskRead:
    send_time: datetime | None  # None: its guide has not sent it
    by_status: dict[TargetStatus, list[str]]
    results: int


async def _read_task(deps: Deps, task: CampaignTask) -> _TaskRead:
    send_time = await _sender_sent_at(deps, task)
    by_status: dict[TargetStatus, list[str]] = defaultdict(list)
    results = 0
    if send_time is not None:
        async for rows in wecomapi.groupmsg_send_result(deps, task.msgid, task.sender):
            results += len(rows)
            for row in rows:
                status = _RESULT.get(int(row.get("status") or 0), TargetStatus.UNSENT)
                by_status[status].append(str(row["external_userid"]))
    return _TaskRead(send_time, by_status, results)


async def _write_task(task: CampaignTask, read: _TaskRead, now: datetime, expire_before: datetime,
                      result: SyncResult) -> None:
    if read.send_time is None:
        if task.created_at < expire_before:
            await _close(task, TaskState.EXPIRED, now)
            result.expired += 1
        else:
            await CampaignTask.filter(id=task.id).update(synced_at=now)
        return
    # One commit per task: its customers' results and the task's state together.
    async with in_transaction() as conn:
        await _set_statuses(conn, task.campaign_id, read.by_status)
        await CampaignTask.filter(id=task.id).using_db(conn).update(state=TaskState.SENT, send_time=read.send_time,
                                                                     synced_at=now)
    result.results += read.results
    result.sent += 1


async def _count_unknown(deps: Deps, tasks: list[CampaignTask], now: datetime) -> int:
    """get_groupmsg_list_v2 over the open tasks' months: the mass messages made outside the product."""
    ours = {task.msgid for task in tasks} | set(
        await CampaignTask.filter(created_at__gte=min(t.created_at for t in tasks)).values_list("msgid", flat=True))
    start = int(min(t.created_at for t in tasks).timestamp()) - 60
    unknown = 0
    while start < int(now.timestamp()):
        end = min(start + 30 * 86400, int(now.timestamp()))
        async for rows in wecomapi.groupmsg_list(deps, start, end):
            unknown += sum(1 for row in rows if str(row.get("msgid")) not in ours)
        start = end + 1
    return unknown


async def _sender_sent_at(deps: Deps, task: CampaignTask) -> datetime | None:
    async for rows in wecomapi.groupmsg_task(deps, task.msgid):
        for row in rows:
            if row.get("userid") == task.sender and int(row.get("status") or 0) == 2:
                return datetime.fromtimestamp(int(row.get("send_time") or 0), tz=deps.clock.now().tzinfo)
    return None


async def _set_statuses(
    conn: BaseDBAsyncClient, campaign_id: int, by_status: dict[TargetStatus, list[str]]
) -> None:
    """Each customer's result on their target, found by the (campaign, customer) key; a target already at its
    status is not written again (a re-sync writes nothing). PostgreSQL: one statement for the whole task (one
    prepared statement, whatever the count); SQLite: one per status and thousand customers."""
    if Dialect.of(conn).name == "postgres":
        # In id order: the index pages the statement reads follow each other rather than jump about.
        pairs = sorted((external, status.value) for status, ids in by_status.items() for external in ids)
        externals = [external for external, _ in pairs]
        statuses = [status for _, status in pairs]
        # Two texts split in the database: encoding a text[] costs the client a few type checks per element.
        joined = _SEP.join(externals)
        if joined.count(_SEP) == len(externals) - 1:  # no id holds the separator (WeCom's never do)
            params: list[Any] = [joined, _SEP.join(statuses), campaign_id]
            values = f"string_to_array($1, {_SEP_SQL}), string_to_array($2, {_SEP_SQL})"
        else:
            params, values = [externals, statuses, campaign_id], "$1::text[], $2::text[]"
        await conn.execute_query(
            "UPDATE campaign_target t SET status = r.status FROM (SELECT c.id AS customer_id, v.status "
            f"FROM unnest({values}) AS v (external_userid, status) "
            "JOIN customer c ON c.external_userid = v.external_userid) r "
            "WHERE t.campaign_id = $3 AND t.customer_id = r.customer_id AND t.status <> r.status",
            params,
        )
        return
    for status, externals in by_status.items():
        for start in range(0, len(externals), 1000):
            sql = SqlParams(Dialect.of(conn))
            await conn.execute_query(
                f"UPDATE campaign_target SET status = {sql.add(status.value)} "
                f"WHERE campaign_id = {sql.add(campaign_id)} AND status <> {sql.dialect.param(1)} AND customer_id IN "
                f"(SELECT id FROM customer WHERE external_userid IN {sql.in_list(externals[start:start + 1000])})",
                sql.values,
            )


async def _customer_ids(external_userids: list[str]) -> list[int]:
    rows = await Customer.filter(external_userid__in=external_userids).values_list("id", flat=True)
    return [int(str(i)) for i in rows]


async def _close(task: CampaignTask, state: TaskState, now: datetime) -> None:
    """A task that will never be sent: its customers still waiting were not reached."""
    await CampaignTask.filter(id=task.id).update(state=state, synced_at=now)
    await CampaignTarget.filter(campaign_id=task.campaign_id, msgid=task.msgid, status=TargetStatus.PLANNED).update(
        status=TargetStatus.UNSENT)


# --- reminders and cancelling -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reminded:
    userid: str
    msgid: str
    reminded: bool
    reason: str = ""  # why not: the day's reminders are used up


async def remind(deps: Deps, campaign: Campaign) -> list[Reminded]:
    """remind_groupmsg_send for each task its guide has not sent (synced first), at most the day's allowance
    per task (WeCom allows 3 in 24 h: a 4th is refused here, with the reason); each guide also gets an app
    message."""
    await sync(deps, campaign)
    now = deps.clock.now()
    allowed = deps.settings.scrm_campaign_reminders_per_day
    out: list[Reminded] = []
    for task in await _open_tasks(campaign):
        recent = [t for t in task.reminders if datetime.fromisoformat(t) > now - timedelta(days=1)]
        if len(recent) >= allowed:
            again = min(datetime.fromisoformat(t) for t in recent) + timedelta(days=1)
            out.append(Reminded(task.sender, task.msgid, False,
                                f"WeCom allows {allowed} reminders per task in 24 hours; {len(recent)} sent, "
                                f"the next is possible after {again.isoformat(timespec='minutes')}"))
            continue
        await wecomapi.remind_groupmsg_send(deps, task.msgid)
        await CampaignTask.filter(id=task.id).update(reminders=[*task.reminders, now.isoformat()])
        waiting = await CampaignTarget.filter(campaign_id=campaign.id, msgid=task.msgid,
                                              status=TargetStatus.PLANNED).count()
        text = deps.config.templates.render("campaign_remind_guide", name=campaign.name, customers=waiting)

        async def notify(to: str = task.sender, body: str = text) -> None:
            await deps.wecom.send_text([to], body)

        key = f"campaign-remind:{task.id}:{len(task.reminders)}"
        await send_once_or_skip(key, "campaign_remind", task.sender, notify, deps.clock)
        out.append(Reminded(task.sender, task.msgid, True))
    log.info("campaign_reminded", campaign=campaign.name, reminded=sum(r.reminded for r in out),
             refused=sum(not r.reminded for r in out))
    return out


async def cancel(deps: Deps, campaign: Campaign) -> int:
    """cancel_groupmsg_send for every open task; no new task is made for it afterwards. How many were open."""
    now = deps.clock.now()
    await Campaign.filter(id=campaign.id).update(cancelled_at=now)
    tasks = await _open_tasks(campaign)
    for task in tasks:
        await wecomapi.cancel_groupmsg_send(deps, task.msgid)
        await _close(task, TaskState.CANCELLED, now)
    log.info("campaign_cancelled", campaign=campaign.name, tasks=len(tasks))
    return len(tasks)


async def by_name(name: str) -> Campaign | None:
    return await Campaign.get_or_none(name=name)
