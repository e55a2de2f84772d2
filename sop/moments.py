"""SOP moment steps: each due occurrence (a ``sop_occurrence`` row the sweep created once) becomes one moment
task (campaigns/moments.py), named after the row so that a retried or crashed tick finds it again instead of
making another; its results are synced with every moment's (the campaign sync tick), and the SOP report reads
who published and how many customers could see it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from bot.deps import Deps
from bot.errors import PermanentFailure
from campaigns import moments
from campaigns.models import Moment
from customers.models import Guide, Role
from sop.config import PLAYBOOKS, Playbook, Step
from sop.models import SopOccurrence

if TYPE_CHECKING:
    from sop.kinds.steps import MomentParams

__all__ = ["moment_name", "prepare_moments", "spec_for", "sync_due"]

log = structlog.get_logger(__name__)
ACTION = "moment"


def moment_name(occurrence_id: int) -> str:
    """The moment's name (unique): one occurrence, one moment, however often its preparation runs."""
    return f"sop-moment:{occurrence_id}"


async def _publishers(playbook: Playbook, params: MomentParams) -> tuple[str, ...]:
    if params.guides:
        return params.guides
    query = Guide.filter(active=True, role=Role.GUIDE)
    if playbook.audience.stores:
        query = query.filter(store__code__in=list(playbook.audience.stores))
    return tuple(str(u) for u in await query.order_by("userid").values_list("userid", flat=True))


async def spec_for(deps: Deps, playbook: Playbook, step: Step, row: SopOccurrence) -> moments.MomentSpec:
    """What the moment is: the step's template (the holiday or weekday as ``{holiday}``), its library items,
    visible to the audience's tags, published by its guides."""
    params: MomentParams = step.params
    text = deps.config.templates.render(step.template, customer_name="", guide_name="", store_name="",
                                        product_name="", holiday=row.detail, coupon=step.coupon)
    audience = playbook.audience
    tags = (*audience.tags, *audience.lifecycle, *audience.rfm)
    guides = await _publishers(playbook, params)
    if not guides:  # no guide in the playbook's stores: never "every guide" by default
        raise moments.MomentError("没有可以发表的导购")
    return moments.MomentSpec(moment_name(row.id), text, tags=tags, guides=guides, attachments=params.attachments)


async def prepare_moments(deps: Deps, limit: int = 100) -> int:
    """Every due, unprepared moment occurrence becomes its moment task (once); one WeCom or config refusal is
    recorded on its row (``error``, shown by the report) and the rest go on."""
    now = deps.clock.now()
    rows = await SopOccurrence.filter(action=ACTION, prepared_at=None, due_at__lte=now).order_by("id").limit(limit)
    for row in rows:
        await _prepare(deps, row, now)
    return len(rows)


async def _prepare(deps: Deps, row: SopOccurrence, now: datetime) -> None:
    playbook = deps.config[PLAYBOOKS].get(row.playbook)
    step = next((s for s in playbook.steps if s.id == row.step), None) if playbook else None
    if playbook is None or step is None or step.action != ACTION:
        await _refused(row, now, "playbook or step removed since")
        return
    try:
        spec = await spec_for(deps, playbook, step, row)
        moment = await moments.send(deps, spec)
    except (moments.MomentError, PermanentFailure) as err:
        await _refused(row, now, str(err))
        return
    if not moment.jobid:  # WeCom refused it on an earlier run (the outbox row is failed)
        await SopOccurrence.filter(id=row.id).update(moment_id=moment.id)
        await _refused(row, now, "企业微信拒绝了这条朋友圈任务")
        return
    await SopOccurrence.filter(id=row.id).update(moment_id=moment.id, prepared_at=now, error="")
    log.info("sop_moment_prepared", playbook=row.playbook, step=row.step, occurrence=row.occurrence,
             moment=moment.name, jobid=moment.jobid)


async def _refused(row: SopOccurrence, now: datetime, reason: str) -> None:
    # A refusal is final for this occurrence (the next one is a new row): the report shows why.
    log.error("sop_moment_refused", playbook=row.playbook, step=row.step, occurrence=row.occurrence,
              reason=reason[:200])
    await SopOccurrence.filter(id=row.id).update(prepared_at=now, error=reason[:256])


async def sync_due(deps: Deps, since: datetime, until: datetime) -> int:
    """Sync now the moments of the occurrences due in [since, until) (the report's, before it prints; the sync
    tick does every recent moment anyway)."""
    ids = await SopOccurrence.filter(due_at__gte=since, due_at__lt=until, moment_id__not_isnull=True).values_list(
        "moment_id", flat=True)
    synced = 0
    for moment in await Moment.filter(id__in=list(ids)).exclude(jobid="").order_by("id"):
        await moments.sync(deps, moment)
        synced += 1
    return synced
