"""Mass-send results (客户群发): the task list, each sender's status, each customer's result; reminders and
cancelling; and what guides do with a task (send it, or never) — ``guide_sends_mass`` plays the tap.

Shapes as WeCom documents them [92135, 96355]: ``get_groupmsg_list_v2`` (time window ≤ 1 month, limit ≤ 100),
``get_groupmsg_task`` and ``get_groupmsg_send_result`` (limit ≤ 1000), opaque cursors; statuses 0 unsent /
2 sent per member and 0 unsent / 1 sent / 2 not a friend / 3 over the limit per customer.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone
from typing import Any

from simulator.apis import groupmsgs
from simulator.apis.base import (
    ApiRequest,
    Endpoint,
    bounded_limit,
    decode_cursor,
    optional_int,
    optional_str,
    page,
    require_str,
)
from simulator.errors import ApiError, ErrCode
from simulator.reach import NOT_FRIEND, OVER_LIMIT, SENT, UNSENT, MassTask
from simulator.state import SimulatorState

__all__ = ["ENDPOINTS", "REMINDERS_PER_DAY", "guide_sends_mass", "mass_tasks_of"]

REMINDERS_PER_DAY = 3
_MONTH_S = 31 * 86400
_CHINA = timezone(timedelta(hours=8))  # WeCom counts the month in Beijing time


def _task(request: ApiRequest) -> MassTask:
    msgid = require_str(request.body, "msgid")
    task = request.state.reach.mass.get(msgid)
    if task is None:
        raise ApiError(ErrCode.INVALID_PARAMETER, "invalid msgid")
    return task


def _month_start(at: float) -> float:
    local = datetime.fromtimestamp(at, _CHINA)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def _monthly_cap(state: SimulatorState, at: float) -> int:
    if state.reach.monthly_cap is not None:
        return state.reach.monthly_cap
    local = datetime.fromtimestamp(at, _CHINA)
    return calendar.monthrange(local.year, local.month)[1]


def mass_tasks_of(state: SimulatorState, userid: str) -> list[MassTask]:
    return [task for task in state.reach.mass.values() if task.sender == userid]


def guide_sends_mass(state: SimulatorState, userid: str, msgid: str | None = None) -> int:
    """The guide taps send on their open task(s) (``msgid`` or all): each customer receives it, is no longer
    a friend, or is over the month's limit. Returns how many customers received it."""
    received = 0
    now = state.now()
    for task in mass_tasks_of(state, userid):
        if (msgid and task.msgid != msgid) or task.status == 2 or task.cancelled:
            continue
        task.status, task.send_time = 2, int(now)
        cap, month = _monthly_cap(state, now), _month_start(now)
        for result in task.results:
            times = state.reach.received.setdefault(result.external_userid, [])
            if state.relation(userid, result.external_userid) is None:
                result.status = NOT_FRIEND
            elif sum(1 for t in times if t >= month) >= cap:
                result.status = OVER_LIMIT
            else:
                result.status, result.send_time = SENT, int(now)
                times.append(now)
                received += 1
    return received


def get_groupmsg_list_v2(request: ApiRequest) -> dict[str, Any]:
    body = request.body
    chat_type = optional_str(body, "chat_type", "single")
    if chat_type not in ("single", "group"):
        raise ApiError(ErrCode.INVALID_PARAMETER, "chat_type")
    if chat_type == "group":
        return groupmsgs.group_list_v2(request)
    start, end = optional_int(body, "start_time", 0), optional_int(body, "end_time", 0)
    if not start or not end or end < start or end - start > _MONTH_S:
        raise ApiError(ErrCode.INVALID_PARAMETER, "start_time/end_time: a window of at most one month")
    if optional_int(body, "filter_type", 2) not in (0, 1, 2):
        raise ApiError(ErrCode.INVALID_PARAMETER, "filter_type")
    creator = optional_str(body, "creator")
    limit = bounded_limit(body, 50, 100)
    listed = [
        task for task in request.state.reach.mass.values()
        if start <= task.created_at <= end and (not creator or task.sender == creator)
    ]
    offset = decode_cursor(body)
    stop, next_cursor = page(len(listed), offset, limit)
    templates = {t.msgid: t for t in request.state.msg_templates}
    out = []
    for task in listed[offset:stop]:
        template = templates.get(task.msgid)  # tasks a test or bench seeded directly have none
        out.append({
            "msgid": task.msgid, "creator": task.sender, "create_type": 0, "create_time": str(int(task.created_at)),
            "text": {"content": template.text if template else ""},
            "attachments": template.attachments if template else [],
        })
    return {"next_cursor": next_cursor, "group_msg_list": out}


def get_groupmsg_task(request: ApiRequest) -> dict[str, Any]:
    if groupmsgs.is_group_send(request):
        return groupmsgs.group_task(request)
    task = _task(request)
    limit = bounded_limit(request.body, 500, 1000)
    offset = decode_cursor(request.body)
    stop, next_cursor = page(1, offset, limit)
    rows = [{"userid": task.sender, "status": task.status, **({"send_time": task.send_time} if task.status else {})}]
    return {"next_cursor": next_cursor, "task_list": rows[offset:stop]}


def get_groupmsg_send_result(request: ApiRequest) -> dict[str, Any]:
    if groupmsgs.is_group_send(request):
        return groupmsgs.group_send_result(request)
    task = _task(request)
    userid = require_str(request.body, "userid")
    limit = bounded_limit(request.body, 500, 1000)
    results = task.results if userid == task.sender else []
    offset = decode_cursor(request.body)
    stop, next_cursor = page(len(results), offset, limit)
    send_list = [
        {"external_userid": r.external_userid, "chat_id": "", "userid": task.sender, "status": r.status,
         **({"send_time": r.send_time} if r.status == SENT else {})}
        for r in results[offset:stop]
    ]
    return {"next_cursor": next_cursor, "send_list": send_list}


def remind_groupmsg_send(request: ApiRequest) -> dict[str, Any]:
    task = _task(request)
    now = request.now
    recent = [t for t in task.reminders if t > now - 86400]
    if task.status == 2 or task.cancelled:
        raise ApiError(ErrCode.INVALID_PARAMETER, "the task was sent or cancelled")
    if len(recent) >= REMINDERS_PER_DAY:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"at most {REMINDERS_PER_DAY} reminders a day per msgid")
    task.reminders.append(now)
    return {}


def cancel_groupmsg_send(request: ApiRequest) -> dict[str, Any]:
    task = _task(request)
    task.cancelled = True
    return {}


# Keep the names used for results visible to importers (tests read them).
STATUSES = {"unsent": UNSENT, "sent": SENT, "not_friend": NOT_FRIEND, "over_limit": OVER_LIMIT}

ENDPOINTS = (
    Endpoint("externalcontact/get_groupmsg_list_v2", "POST", get_groupmsg_list_v2),
    Endpoint("externalcontact/get_groupmsg_task", "POST", get_groupmsg_task),
    Endpoint("externalcontact/get_groupmsg_send_result", "POST", get_groupmsg_send_result),
    Endpoint("externalcontact/remind_groupmsg_send", "POST", remind_groupmsg_send),
    Endpoint("externalcontact/cancel_groupmsg_send", "POST", cancel_groupmsg_send),
)

