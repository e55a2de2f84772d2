"""SOP services with plain inputs: the engine's tick, a customer's re-sweep, closing tasks, pausing playbooks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import structlog
from tortoise.exceptions import IntegrityError

from bot.deps import Deps
from bot.lease import lease
from bot.outbox import send_once
from bot.sqldialect import Dialect, SqlParams, connection, ids_filter
from campaigns import service as campaigns
from customers.models import Customer, Guide, SyncState
from sop.config import PLAYBOOKS
from sop.delivery import BUTTON_PREFIX, notice, run_pending_notices
from sop.engine import SweepResult, close_by_goals, fill_suggestions, sweep
from sop.kinds import ACTIONS
from sop.models import SopPlaybookState, SopTask, TaskStatus

__all__ = [
    "run_tick",
    "run_digest",
    "sweep_customers",
    "complete_task",
    "Completion",
    "paused_playbooks",
    "set_paused",
    "complete_from_card",
    "prepare_mass",
    "open_tasks_of",
    "move_open_tasks",
]

log = structlog.get_logger(__name__)
WATERMARK = "sop_sweep"


async def paused_playbooks() -> frozenset[str]:
    rows = await SopPlaybookState.filter(paused=True).values_list("playbook", flat=True)
    return frozenset(str(row) for row in rows)


async def set_paused(playbook_id: str, paused: bool, by: str = "") -> None:
    try:
        await SopPlaybookState.update_or_create(playbook=playbook_id, defaults={"paused": paused, "changed_by": by})
    except IntegrityError:  # two operators at once: the other one created the row
        await SopPlaybookState.filter(playbook=playbook_id).update(paused=paused, changed_by=by)
    log.info("sop_playbook_paused" if paused else "sop_playbook_resumed", playbook=playbook_id, by=by)


def _lease_key(deps: Deps) -> str:
    return f"{{{deps.settings.scrm_redis_prefix}}}:sop:sweep-lease"


async def run_tick(deps: Deps) -> SweepResult | None:
    """The minute tick (also ``scrm sop run-once``): sweep what fell due since the last sweep, close
    tasks whose goal was seen, prepare each action's WeCom tasks (mass messages, moments), send what quiet
    hours held back. None when
    another engine holds the lease. Edited playbooks arrive through the process's config check
    (bot/reload.py), like every config file."""
    settings = deps.settings
    async with lease(deps.redis, _lease_key(deps), settings.scrm_sop_lease_s) as held:
        if not held:
            log.info("sop_tick_skipped", reason="another engine holds the lease")
            return None
        now = deps.clock.now()
        earliest = now - timedelta(hours=settings.scrm_sop_catchup_hours)
        state = await SyncState.get_or_none(name=WATERMARK)
        since = max(datetime.fromisoformat(state.data["until"]), earliest) if state else earliest
        playbooks = deps.config[PLAYBOOKS]
        overlap = timedelta(seconds=settings.scrm_sop_overlap_s)
        result = SweepResult()
        if since < now:
            result = await sweep(
                playbooks,
                since=since,
                until=now,
                tz=settings.scrm_timezone,
                overlap=overlap,
                paused=await paused_playbooks(),
            )
            await SyncState.update_or_create(name=WATERMARK, defaults={"data": {"until": now.isoformat()}})
        result.closed_by_goal = await close_by_goals(playbooks, since=since - overlap, now=now)
        await fill_suggestions(playbooks, deps.config.templates)
        for action in ACTIONS.values():  # what fell due becomes WeCom tasks: mass sends, moments
            await action.prepare(deps)
    await run_pending_notices(deps)
    return result


async def run_digest(deps: Deps) -> None:
    """The morning digest: today's steps are swept first, so the list the guides get is complete."""
    await run_tick(deps)
    await notice(deps, "digest")


async def sweep_customers(deps: Deps, customer_ids: list[int]) -> SweepResult:
    """A customer changed (added, ordered, re-tagged): their due steps now, not at the next minute;
    and any goal they reached closes their tasks."""
    settings = deps.settings
    now = deps.clock.now()
    since = now - timedelta(hours=settings.scrm_sop_catchup_hours)
    playbooks = deps.config[PLAYBOOKS]
    result = await sweep(
        playbooks,
        since=since,
        until=now,
        tz=settings.scrm_timezone,
        paused=await paused_playbooks(),
        customer_ids=customer_ids,
    )
    result.closed_by_goal = await close_by_goals(playbooks, since=since, now=now, customer_ids=customer_ids)
    if result.created:
        await fill_suggestions(playbooks, deps.config.templates)
    return result


async def prepare_mass(deps: Deps, limit: int = 5000) -> int:
    """``mass`` steps: each (guide, step) batch is a campaign (campaigns/): one add_msg_template per guide for
    them to confirm in WeCom, its msgid and fail_list kept and its results synced like every campaign's, the
    frequency cap applied. The SOP's own holdout (control rows) is the campaign's: the campaign holds none out."""
    conn = connection()
    dialect = Dialect.of(conn)
    now = deps.clock.now()
    sql = SqlParams(dialect)
    rows = await conn.execute_query_dict(
        "SELECT t.id, t.playbook, t.step, t.guide_id, t.customer_id, t.detail FROM sop_task t "
        f"WHERE t.status = 'open' AND t.action = 'mass' AND t.prepared_at IS NULL AND t.due_at <= {sql.add(now)} "
        f"ORDER BY t.id LIMIT {int(limit)}",
        sql.values,
    )
    groups: dict[tuple[int, str, str], list[dict[str, object]]] = defaultdict(list)
    for row in rows:
        groups[(int(str(row["guide_id"])), str(row["playbook"]), str(row["step"]))].append(row)
    for (guide_id, playbook_id, step_id), members in groups.items():
        playbook = deps.config[PLAYBOOKS].get(playbook_id)
        step = next((s for s in playbook.steps if s.id == step_id), None) if playbook else None
        if step is not None:
            text = deps.config.templates.render(
                step.template, customer_name="", coupon=step.coupon, holiday=str(members[0].get("detail", "") or "")
            )
            spec = campaigns.CampaignSpec(
                f"sop:{playbook_id[:30]}:{step_id[:16]}:{members[0]['id']}", campaigns.Audience(),
                text.replace("{", "{{").replace("}", "}}"), holdout_pct=0.0, source="sop", playbook=playbook_id,
                step=step_id,
            )
            try:
                campaign = await campaigns.create(deps, spec)
            except campaigns.ContentError as err:
                log.error("sop_mass_refused", playbook=playbook_id, step=step_id, reason=str(err))
                continue
            await campaigns.plan_pairs(deps, campaign, guide_id, [int(str(m["customer_id"])) for m in members])
            await campaigns.dispatch(deps, campaign)
        ids = [int(str(m["id"])) for m in members]
        sql = SqlParams(dialect)
        await conn.execute_query(
            f"UPDATE sop_task SET prepared_at = {sql.add(now)} WHERE 1 = 1{ids_filter('id', ids)}", sql.values
        )
    return len(rows)


class Completion(StrEnum):
    DONE = "done"
    ALREADY = "already"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Completed:
    outcome: Completion
    task: SopTask | None = None


async def complete_task(deps: Deps, userid: str, task_id: int, by: str) -> Completed:
    """The guide ``userid`` marks their task done (by ``button`` or ``chat``); idempotent."""
    task = await SopTask.get_or_none(id=task_id, guide__userid=userid).prefetch_related("customer")
    if task is None or task.status == TaskStatus.CONTROL:
        return Completed(Completion.UNKNOWN)
    changed = await SopTask.filter(id=task.id, status=TaskStatus.OPEN).update(
        status=TaskStatus.DONE, done_by=by, done_at=deps.clock.now()
    )
    if not changed:
        return Completed(Completion.ALREADY, task)
    log.info("sop_task_done", task_id=task.id, playbook=task.playbook, step=task.step, by=by)
    return Completed(Completion.DONE, task)


async def complete_from_card(deps: Deps, userid: str, event_key: str) -> Completed | None:
    """A digest card button (``sop:done:<id>``); None for keys that are not ours (lead cards …)."""
    if not event_key.startswith(BUTTON_PREFIX):
        return None
    try:
        task_id = int(event_key.removeprefix(BUTTON_PREFIX))
    except ValueError:
        log.warning("sop_card_key_invalid", userid=userid, event_key=event_key[:64])
        return Completed(Completion.UNKNOWN)
    done = await complete_task(deps, userid, task_id, "button")
    if done.outcome is Completion.DONE and done.task is not None:
        templates = deps.config.templates
        text = templates.render(
            "sop_done_ok", task_id=task_id,
            customer_name=done.task.customer.name or templates.render("sop_customer_unnamed"),
        )

        async def send() -> None:
            await deps.wecom.send_text([userid], text)

        await send_once(f"sop-done:{task_id}", "sop_done", userid, send, deps.clock)
    return done


async def open_tasks_of(customer_id: int, limit: int = 5) -> list[SopTask]:
    """The customer's open tasks, soonest due first (the 客户 profile)."""
    return await SopTask.filter(customer_id=customer_id, status=TaskStatus.OPEN).order_by("due_at").limit(limit)


async def move_open_tasks(old_userid: str, new_userid: str, external_userids: list[str]) -> int:
    """Open tasks of these customers pass from the guide ``old_userid`` to ``new_userid`` (a hand-over)."""
    giver = await Guide.get_or_none(userid=old_userid)
    taker = await Guide.get_or_none(userid=new_userid)
    if giver is None or taker is None:
        return 0
    customer_ids = await Customer.filter(external_userid__in=external_userids).values_list("id", flat=True)
    moved: int = await SopTask.filter(
        guide_id=giver.id, customer_id__in=list(customer_ids), status=TaskStatus.OPEN
    ).update(guide_id=taker.id)
    return moved
