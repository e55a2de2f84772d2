"""Guide hand-over (交接): move a guide's customers to another guide through WeCom's transfer APIs.

``start_handover`` sends the customers in calls of up to 100 (paced), the serving or the resigned
variant as the giver is still in the company or not, and records each customer's transfer.
WeCom resolves transfers later (the customer has 24 h to refuse): ``check_handovers`` (a scheduled
tick) reads ``transfer_result``, moves the relations of those taken over, runs the registered
hand-over hooks (open tasks, leads …) and tells the requester the outcome once everything settled;
a ``transfer_fail`` event marks a customer failed at once.

Other features move their own records with one registered function (no import of theirs here)::

    @router.on_handover("待办")
    async def move_tasks(deps: Deps, old_userid: str, new_userid: str, external_userids: Sequence[str]) -> int:
        ...  # return how many moved; must be idempotent (a failed check runs again)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from tortoise.transactions import in_transaction

from bot.deps import Deps
from bot.dispatch import hooks
from bot.wecom.errors import WeComError
from customers.models import Customer, Guide, Relationship
from operators.models import Handover, HandoverItem

__all__ = [
    "HandoverError",
    "HandoverReport",
    "start_handover",
    "check_handovers",
    "transfer_failed",
    "report_of",
]

log = structlog.get_logger(__name__)

HandoverHook = Callable[[Deps, str, str, Sequence[str]], Awaitable[int]]

WAITING, MOVED, FAILED = "waiting", "moved", "failed"
PER_CALL = 100
# transfer_result status → (our status, reason)
_RESULT = {1: (MOVED, ""), 2: (WAITING, ""), 3: (FAILED, "customer_refused"), 4: (FAILED, "customer_limit_exceed"),
           5: (FAILED, "no_transfer_record")}
_RESIGNED_STATUS = 5  # user/get status of a member who left the company
_USER_NOT_FOUND = 60111



# Why a hand-over cannot start (the 交接 answer, cmd_handover_refused's {detail}).
TEMPLATES = ("cmd_handover_same_member", "cmd_handover_unknown_member", "cmd_handover_taker_left",
             "cmd_handover_nothing")


class HandoverError(Exception):
    """The hand-over cannot start; the message says why (Chinese, for the operator)."""


@dataclass(frozen=True, slots=True)
class HandoverReport:
    handover_id: int
    requested_by: str
    handover_userid: str
    takeover_userid: str
    resigned: bool
    moved: int
    waiting: int
    failed: int
    reasons: dict[str, int] = field(default_factory=dict)
    moved_records: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.waiting == 0


async def _has_resigned(deps: Deps, userid: str) -> bool:
    try:
        user = await deps.wecom.get_user(userid)
    except WeComError as err:
        if err.errcode == _USER_NOT_FOUND:
            return True
        raise
    return int(user.get("status", 1) or 1) == _RESIGNED_STATUS


async def start_handover(deps: Deps, handover_userid: str, takeover_userid: str, requested_by: str) -> HandoverReport:
    """Ask WeCom to transfer every current customer of ``handover_userid`` to ``takeover_userid``."""
    if handover_userid == takeover_userid:
        raise HandoverError(deps.config.templates.render("cmd_handover_same_member"))
    giver = await Guide.get_or_none(userid=handover_userid)
    taker = await Guide.get_or_none(userid=takeover_userid)
    if giver is None or taker is None:
        raise HandoverError(deps.config.templates.render(
            "cmd_handover_unknown_member", name=handover_userid if giver is None else takeover_userid))
    if not taker.active or await _has_resigned(deps, takeover_userid):
        raise HandoverError(deps.config.templates.render("cmd_handover_taker_left", name=taker.name or takeover_userid))
    busy = await HandoverItem.filter(status=WAITING).values_list("external_userid", flat=True)
    external_userids: list[str] = await Customer.filter(
        relationships__guide_id=giver.id,
        relationships__deleted_by_customer_at__isnull=True,
        relationships__deleted_by_guide_at__isnull=True,
    ).exclude(external_userid__in=busy).order_by("id").values_list("external_userid", flat=True)  # type: ignore[assignment]
    if not external_userids:
        raise HandoverError(deps.config.templates.render("cmd_handover_nothing", name=giver.name or handover_userid))
    resigned = await _has_resigned(deps, handover_userid)
    handover = await Handover.create(
        handover_userid=handover_userid,
        takeover_userid=takeover_userid,
        resigned=resigned,
        requested_by=requested_by,
        created_at=deps.clock.now(),
    )
    for start in range(0, len(external_userids), PER_CALL):
        if start:
            await asyncio.sleep(deps.settings.scrm_transfer_pause_s)  # paced: WeCom limits transfer calls
        chunk = external_userids[start : start + PER_CALL]
        answers = await deps.wecom.transfer_customer(handover_userid, takeover_userid, chunk, resigned=resigned)
        errcodes = {str(a.get("external_userid")): int(a.get("errcode", 0)) for a in answers}
        await HandoverItem.bulk_create(
            [
                HandoverItem(
                    handover_id=handover.id,
                    external_userid=external_userid,
                    status=WAITING if errcodes.get(external_userid, 0) == 0 else FAILED,
                    reason="" if errcodes.get(external_userid, 0) == 0 else f"errcode {errcodes[external_userid]}",
                )
                for external_userid in chunk
            ]
        )
    log.info("handover_started", handover_id=handover.id, customers=len(external_userids), resigned=resigned)
    return await report_of(handover)


async def report_of(handover: Handover, moved_records: dict[str, int] | None = None) -> HandoverReport:
    rows = await HandoverItem.filter(handover_id=handover.id).values_list("status", "reason")
    statuses = Counter(status for status, _ in rows)
    reasons = Counter(reason for status, reason in rows if status == FAILED)
    return HandoverReport(
        handover.id,
        handover.requested_by,
        handover.handover_userid,
        handover.takeover_userid,
        handover.resigned,
        statuses[MOVED],
        statuses[WAITING],
        statuses[FAILED],
        dict(reasons),
        moved_records or {},
    )


async def _results(deps: Deps, handover: Handover) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    cursor = ""
    while True:
        page = await deps.wecom.transfer_result(
            handover.handover_userid, handover.takeover_userid, resigned=handover.resigned, cursor=cursor
        )
        for row in page.get("customer", []):
            found[str(row.get("external_userid"))] = _RESULT.get(int(row.get("status", 2)), (WAITING, ""))
        cursor = str(page.get("next_cursor", "") or "")
        if not cursor:
            return found


async def move_relationships(old_userid: str, new_userid: str, external_userids: Sequence[str], at: datetime) -> None:
    """The taker now has these customers (channel kept); the giver's relation ends. Set-based."""
    if not external_userids:
        return
    old = await Guide.get(userid=old_userid)
    new = await Guide.get(userid=new_userid)
    customer_ids = await Customer.filter(external_userid__in=external_userids).values_list("id", flat=True)
    kept: list[dict[str, Any]] = await Relationship.filter(guide_id=old.id, customer_id__in=customer_ids).values(
        "customer_id", "state", "channel_id"
    )
    await Relationship.filter(guide_id=new.id, customer_id__in=customer_ids).update(
        deleted_by_customer_at=None, deleted_by_guide_at=None, transfer_failed_reason=""
    )
    await Relationship.bulk_create(
        [
            Relationship(guide_id=new.id, customer_id=r["customer_id"], state=r["state"], channel_id=r["channel_id"],
                         add_way=201, created_at=at)
            for r in kept
        ],
        ignore_conflicts=True,
    )
    await Relationship.filter(guide_id=old.id, customer_id__in=customer_ids, deleted_by_guide_at__isnull=True).update(
        deleted_by_guide_at=at
    )


async def check_handovers(deps: Deps) -> list[HandoverReport]:
    """Read WeCom's results for every open hand-over; report to the requester when one settles."""
    reports = []
    for handover in await Handover.filter(status="open").order_by("id"):
        reports.append(await _check(deps, handover))
    return reports


async def _check(deps: Deps, handover: Handover) -> HandoverReport:
    results = await _results(deps, handover)
    waiting = await HandoverItem.filter(handover_id=handover.id, status=WAITING)
    moved = [i for i in waiting if results.get(i.external_userid, (WAITING, ""))[0] == MOVED]
    failed = [i for i in waiting if results.get(i.external_userid, (WAITING, ""))[0] == FAILED]
    moved_ids = [i.external_userid for i in moved]
    records: dict[str, int] = {}
    if moved_ids:
        # Hooks first: a failing hook leaves the items waiting, so the next check runs them all again.
        for label, hook in hooks(deps.routers, "handover").items():
            records[label] = await hook(deps, handover.handover_userid, handover.takeover_userid, moved_ids)
    async with in_transaction():
        await move_relationships(handover.handover_userid, handover.takeover_userid, moved_ids, deps.clock.now())
        if moved:
            await HandoverItem.filter(id__in=[i.id for i in moved]).update(status=MOVED)
        for item in failed:
            await HandoverItem.filter(id=item.id).update(status=FAILED, reason=results[item.external_userid][1])
    report = await report_of(handover, records)
    if report.done:
        handover.status, handover.finished_at = "done", deps.clock.now()
        await handover.save(update_fields=["status", "finished_at"])
    log.info("handover_checked", handover_id=handover.id, moved=report.moved, waiting=report.waiting,
             failed=report.failed)
    return report


async def transfer_failed(takeover_userid: str, external_userid: str, reason: str) -> int:
    """A ``transfer_fail`` event: the customer's waiting transfer to ``takeover_userid`` failed."""
    handover_ids = await Handover.filter(takeover_userid=takeover_userid, status="open").values_list("id", flat=True)
    return await HandoverItem.filter(
        handover_id__in=handover_ids, external_userid=external_userid, status=WAITING
    ).update(status=FAILED, reason=(reason or "transfer_fail")[:64])
