"""Moments (朋友圈) as tasks: ``add_moment_task`` (visible to customers with given corp tags, published by given
guides or a store's) → the moment id (``get_moment_task_result``) → who published (``get_moment_task``), how many
customers could see it (``get_moment_send_result``), likes and comments (``get_moment_comments``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from tortoise.exceptions import IntegrityError

from bot.deps import Deps
from bot.outbox import send_once, send_once_or_skip
from bot.wecom.errors import WeComPermanentError
from campaigns import wecomapi
from campaigns.delivery import ContentError, attachments_payload
from campaigns.models import Moment, MomentGuide
from customers.models import Guide, Role, Tag
from sidebar.config import LIBRARY

__all__ = ["MomentError", "MomentSpec", "by_name", "remind", "send", "sync", "sync_recent"]

log = structlog.get_logger(__name__)

TEXT_MAX_CHARS = 2000


class MomentError(ValueError):
    """A moment that cannot be sent as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class MomentSpec:
    name: str
    text: str
    tags: tuple[str, ...] = ()
    guides: tuple[str, ...] = ()
    store: str = ""
    attachments: tuple[str, ...] = ()


async def _senders(spec: MomentSpec) -> list[str]:
    query = Guide.filter(active=True, role=Role.GUIDE)
    if spec.guides:
        query = query.filter(userid__in=list(spec.guides))
    if spec.store:
        query = query.filter(store__code=spec.store)
    return [str(u) for u in await query.order_by("userid").values_list("userid", flat=True)]


async def send(deps: Deps, spec: MomentSpec) -> Moment:
    """Create the moment task once (by name); the moment id is read now if WeCom has it, else at the sync.

    Run again with the same name (a retried job, a tick after a crash), it sends what the first run did not:
    the row is written first, add_moment_task goes through the outbox under ``moment:<id>``."""
    found = await Moment.get_or_none(name=spec.name)
    moment = found if found is not None else await _create(deps, spec)
    if moment.jobid:
        return moment
    tags = {str(t.name): str(t.wecom_id) for t in await Tag.filter(name__in=list(moment.tags), deleted=False)}
    missing = [t for t in moment.tags if t not in tags]
    if missing:  # deleted since the row was written: never widen who may see it
        raise MomentError(f"没有标签 {missing[0]}")
    items = [str(a["item"]) for a in moment.attachments]
    try:
        attachments = await attachments_payload(deps, items)
    except (ContentError, KeyError) as err:  # a library item removed since the row was written
        raise MomentError(str(err)) from err

    async def create_task() -> None:
        moment.jobid = await wecomapi.add_moment_task(deps, moment.text, attachments, moment.senders,
                                                      [tags[t] for t in moment.tags])
        await Moment.filter(id=moment.id).update(jobid=moment.jobid)

    await MomentGuide.bulk_create([MomentGuide(moment_id=moment.id, userid=u) for u in moment.senders],
                                  ignore_conflicts=True)
    if not await send_once(f"moment:{moment.id}", "moment_task", ",".join(moment.senders)[:64], create_task,
                           deps.clock):
        moment = await Moment.get(id=moment.id)  # sent before (a retry): its jobid is on the row
    await _moment_id(deps, moment)
    log.info("moment_sent", moment=moment.name, senders=len(moment.senders), tags=len(tags))
    return moment


async def _create(deps: Deps, spec: MomentSpec) -> Moment:
    if not spec.text.strip() or len(spec.text) > TEXT_MAX_CHARS:
        raise MomentError(f"文字需要 1 到 {TEXT_MAX_CHARS} 个字")
    if len(spec.attachments) > 9:
        raise MomentError("附件最多 9 个")
    unknown = [i for i in spec.attachments if i not in deps.config[LIBRARY].items]
    if unknown:
        raise MomentError(f"素材库里没有 {unknown[0]}")
    known = {str(t.name) for t in await Tag.filter(name__in=list(spec.tags), deleted=False)}
    missing = [t for t in spec.tags if t not in known]
    if missing:
        raise MomentError(f"没有标签 {missing[0]}")
    senders = await _senders(spec)
    if not senders:
        raise MomentError("没有可以发表的导购")
    try:
        return await Moment.create(
            name=spec.name, text=spec.text, attachments=[{"item": i} for i in spec.attachments], tags=list(spec.tags),
            senders=senders, created_at=deps.clock.now())
    except IntegrityError:  # the same name at the same moment from another process
        return await Moment.get(name=spec.name)


async def _moment_id(deps: Deps, moment: Moment) -> None:
    if moment.moment_id or not moment.jobid:
        return
    answer = await wecomapi.moment_task_result(deps, moment.jobid)
    result: dict[str, Any] = answer.get("result") or {}
    if int(answer.get("status") or 0) == 3 and result.get("moment_id"):
        moment.moment_id = str(result["moment_id"])
        await Moment.filter(id=moment.id).update(moment_id=moment.moment_id)


async def sync(deps: Deps, moment: Moment) -> Moment:
    """Who published, how many customers could see each guide's post, likes and comments."""
    await _moment_id(deps, moment)
    if not moment.moment_id:
        return moment
    published: dict[str, bool] = {}
    async for rows in wecomapi.moment_task(deps, moment.moment_id):
        for row in rows:
            published[str(row["userid"])] = int(row.get("publish_status") or 0) == 1
    for userid, done in published.items():
        figures: dict[str, Any] = {"published": done, "customers": 0, "likes": 0, "comments": 0}
        if done:
            async for rows in wecomapi.moment_customers(deps, moment.moment_id, userid):
                figures["customers"] += len(rows)
            reactions = await wecomapi.moment_comments(deps, moment.moment_id, userid)
            figures["likes"] = len(reactions.get("like_list") or [])
            figures["comments"] = len(reactions.get("comment_list") or [])
        await MomentGuide.update_or_create(moment_id=moment.id, userid=userid, defaults=figures)
    moment.synced_at = deps.clock.now()
    await Moment.filter(id=moment.id).update(synced_at=moment.synced_at)
    return moment


async def sync_recent(deps: Deps) -> int:
    """The sync tick: every moment created within the sync window (``SCRM_CAMPAIGN_SYNC_DAYS``), those of SOP
    steps too, so the boards' moment execution rate and the SOP report need no one to ask first. A moment WeCom
    will not tell about is logged and the rest go on."""
    since = deps.clock.now() - timedelta(days=deps.settings.scrm_campaign_sync_days)
    synced = 0
    for moment in await Moment.filter(created_at__gte=since).exclude(jobid="").order_by("id"):
        try:
            await sync(deps, moment)
        except WeComPermanentError as err:
            log.warning("moment_sync_refused", moment=moment.name, error=str(err)[:200])
            continue
        synced += 1
    if synced:
        log.info("moments_synced", moments=synced)
    return synced


async def remind(deps: Deps, moment: Moment) -> list[str]:
    """WeCom has no reminder API for moments: the guides who have not published get an app message (once a day)."""
    moment = await sync(deps, moment)
    rows = await MomentGuide.filter(moment_id=moment.id, published=True).values_list("userid", flat=True)
    done = {str(userid) for userid in rows}
    waiting = [u for u in moment.senders if u not in done]
    day = deps.clock.now().date().isoformat()
    text = deps.config.templates.render("campaign_moment_remind_guide", name=moment.name)
    for userid in waiting:

        async def notify(to: str = userid) -> None:
            await deps.wecom.send_text([to], text)

        key = f"moment-remind:{moment.id}:{userid}:{day}"
        await send_once_or_skip(key, "moment_remind", userid, notify, deps.clock)
    return waiting


async def by_name(name: str) -> Moment | None:
    return await Moment.get_or_none(name=name)
