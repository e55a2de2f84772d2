"""The morning's messages: each guide's members to add (添加会员), and one line per store to its managers
(assigned, added, still open, overdue). Each goes out once a day (the outbox), whatever the retries."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import structlog

from acquisition.chat import greeting, task_line
from acquisition.config import ACQUISITION
from acquisition.models import Member, TaskStatus
from acquisition.report import funnel
from acquisition.service import assign_open, open_tasks, recycle
from bot.deps import Deps
from bot.outbox import send_once_or_skip
from customers.models import Guide, Role, Store

__all__ = ["TEMPLATES", "morning", "send_guide_digests", "send_store_lines"]

log = structlog.get_logger(__name__)

TEMPLATES = ("acquire_digest", "acquire_store_line")


async def morning(deps: Deps) -> None:
    """The daily run: stale tasks recycled (once per run), members still without a guide given one (their
    store may have one now), then the guides' and the managers' messages."""
    await recycle(deps)
    await assign_open(deps.clock.now())
    await send_guide_digests(deps)
    await send_store_lines(deps)


def _day(deps: Deps) -> str:
    return deps.clock.now().astimezone(ZoneInfo(deps.settings.scrm_timezone)).date().isoformat()


async def send_guide_digests(deps: Deps) -> int:
    """Every guide with open add tasks: how many, the oldest few (masked phones), a greeting to send."""
    templates = deps.config.templates
    day = _day(deps)
    sent = 0
    userids = await Member.filter(task_status=TaskStatus.OPEN, guide__active=True).distinct().values_list(
        "guide__userid", flat=True)
    for userid in sorted(str(u) for u in userids):
        total, tasks = await open_tasks(userid, deps.config[ACQUISITION].digest_top)
        if not tasks:
            continue
        guide = await Guide.get(userid=userid)
        text = templates.render("acquire_digest", count=total, date=day,
                                items="\n".join(task_line(templates, t) for t in tasks),
                                greeting=greeting(templates, tasks[0], guide.name))

        async def send(to: str = userid, body: str = text) -> None:
            await deps.wecom.send_text([to], body)

        if await send_once_or_skip(f"acquire-digest:{day}:{userid}", "acquire_digest", userid, send, deps.clock):
            sent += 1
    log.info("acquire_digests_sent", sent=sent, day=day)
    return sent


async def send_store_lines(deps: Deps) -> int:
    """Each store manager: their store's line of the funnel."""
    templates = deps.config.templates
    day = _day(deps)
    figures = {row["store"]: row for row in (await funnel(deps.clock.now(),
                                                          deps.config[ACQUISITION].acquire_due_days))["stores"]}
    sent = 0
    for store in await Store.filter(code__in=list(figures)):
        row = figures[store.code]
        text = templates.render("acquire_store_line", store_name=store.name, date=day, assigned=row["assigned"],
                                added=row["added"], open=row["open"], overdue=row["overdue"])
        for manager in await Guide.filter(store_id=store.id, role=Role.STORE_MANAGER, active=True):

            async def send(to: str = manager.userid, body: str = text) -> None:
                await deps.wecom.send_text([to], body)

            if await send_once_or_skip(f"acquire-store:{day}:{manager.userid}", "acquire_store", manager.userid,
                                       send, deps.clock):
                sent += 1
    return sent
