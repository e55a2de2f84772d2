"""Moments (客户朋友圈) [96351, 96923]: ``add_moment_task`` (async: a jobid) → ``get_moment_task_result``
(the moment_id) → who published (``get_moment_task``), who could see it (``get_moment_customer_list``,
``get_moment_send_result``), likes and comments (``get_moment_comments``); and guide behaviour data
(``get_user_behavior_data``). ``guide_publishes_moment`` and ``customer_comments`` play the people."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from simulator.apis.base import (
    ApiRequest,
    Endpoint,
    bounded_limit,
    decode_cursor,
    optional_dict,
    optional_int,
    optional_str,
    page,
    require_str,
    str_list,
)
from simulator.errors import ApiError, ErrCode
from simulator.reach import MomentTask
from simulator.state import SimulatorState

__all__ = ["ENDPOINTS", "customer_comments", "guide_publishes_moment", "set_behaviour"]

_TEXT_MAX_CHARS = 2000
_CHINA = timezone(timedelta(hours=8))


def _visible_customers(state: SimulatorState, userid: str, tag_ids: list[str]) -> list[str]:
    relations = state.relations.get(userid, {})
    if not tag_ids:
        return list(relations)
    wanted = set(tag_ids)
    return [ext for ext, rel in relations.items() if rel.tag_ids & wanted]


def guide_publishes_moment(state: SimulatorState, userid: str, moment_id: str | None = None) -> int:
    """The guide publishes their pending moment(s): the customers in range can see it. Returns how many."""
    seen = 0
    for moment in state.reach.moments.values():
        if (moment_id and moment.moment_id != moment_id) or userid not in moment.senders or moment.cancelled:
            continue
        if userid in moment.published:
            continue
        moment.published[userid] = state.clock.now_int()
        moment.visible[userid] = _visible_customers(state, userid, moment.tag_ids)
        seen += len(moment.visible[userid])
    return seen


def customer_comments(state: SimulatorState, moment_id: str, userid: str, external_userid: str, *, like: bool) -> None:
    state.reach.moments[moment_id].comments.append(
        {"userid": userid, "external_userid": external_userid, "like": like, "create_time": state.clock.now_int()}
    )


def set_behaviour(state: SimulatorState, userid: str, day: str, **figures: Any) -> None:
    """What get_user_behavior_data says of ``userid`` on ``day`` (YYYY-MM-DD, Beijing time)."""
    state.reach.behaviour[(userid, day)] = figures


def add_moment_task(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    text = optional_dict(request.body, "text") or {}
    content = optional_str(text, "content")
    if len(content) > _TEXT_MAX_CHARS:
        raise ApiError(ErrCode.CONTENT_TOO_LARGE, "text.content")
    attachments = request.body.get("attachments") or []
    if not isinstance(attachments, list) or len(attachments) > 9:
        raise ApiError(ErrCode.INVALID_PARAMETER, "at most 9 attachments")
    if not content and not attachments:
        raise ApiError(ErrCode.EMPTY_CONTENT, "text and attachments are both empty")
    visible = optional_dict(request.body, "visible_range") or {}
    senders = str_list(optional_dict(visible, "sender_list") or {}, "user_list")
    tag_ids = str_list(optional_dict(visible, "external_contact_list") or {}, "tag_list")
    jobid = state.ids.make("job", 24)
    valid_senders = [s for s in senders if s in state.members] or list(state.members)
    moment_id = state.ids.make("mom", 24)
    state.reach.moments[moment_id] = MomentTask(
        jobid, moment_id, content, list(attachments), valid_senders,
        [t for t in tag_ids if t in state.tags], request.now,
    )
    state.reach.moment_jobs[jobid] = moment_id
    return {"jobid": jobid}


def get_moment_task_result(request: ApiRequest) -> dict[str, Any]:
    jobid = require_str(request.query, "jobid")
    moment_id = request.state.reach.moment_jobs.get(jobid)
    if moment_id is None:
        raise ApiError(ErrCode.INVALID_PARAMETER, "invalid jobid")
    moment = request.state.reach.moments[moment_id]
    invalid_tags = [t for t in moment.tag_ids if t not in request.state.tags]
    return {
        "status": 3, "type": "add_moment_task",
        "result": {"errcode": 0, "errmsg": "ok", "moment_id": moment_id,
                   "invalid_sender_list": {"user_list": [], "department_list": []},
                   "invalid_external_contact_list": {"tag_list": invalid_tags}},
    }


def _moment(request: ApiRequest) -> MomentTask:
    moment = request.state.reach.moments.get(require_str(request.body, "moment_id"))
    if moment is None:
        raise ApiError(ErrCode.INVALID_PARAMETER, "invalid moment_id")
    return moment


def get_moment_task(request: ApiRequest) -> dict[str, Any]:
    moment = _moment(request)
    limit = bounded_limit(request.body, 500, 1000)
    offset = decode_cursor(request.body)
    stop, next_cursor = page(len(moment.senders), offset, limit)
    rows = [{"userid": u, "publish_status": 1 if u in moment.published else 0} for u in moment.senders[offset:stop]]
    return {"next_cursor": next_cursor, "task_list": rows}


def _customers(request: ApiRequest, key: str, *, with_userid: bool) -> dict[str, Any]:
    moment = _moment(request)
    userid = require_str(request.body, "userid")
    limit = bounded_limit(request.body, 500, 1000)
    customers = moment.visible.get(userid, [])
    offset = decode_cursor(request.body)
    stop, next_cursor = page(len(customers), offset, limit)
    rows = [({"userid": userid} if with_userid else {}) | {"external_userid": ext} for ext in customers[offset:stop]]
    return {"next_cursor": next_cursor, key: rows}


def get_moment_customer_list(request: ApiRequest) -> dict[str, Any]:
    return _customers(request, "customer_list", with_userid=True)


def get_moment_send_result(request: ApiRequest) -> dict[str, Any]:
    return _customers(request, "customer_list", with_userid=False)


def get_moment_comments(request: ApiRequest) -> dict[str, Any]:
    moment = _moment(request)
    userid = require_str(request.body, "userid")
    mine = [c for c in moment.comments if c["userid"] == userid]
    return {
        "comment_list": [{"external_userid": c["external_userid"], "create_time": c["create_time"]}
                         for c in mine if not c["like"]],
        "like_list": [{"external_userid": c["external_userid"], "create_time": c["create_time"]}
                      for c in mine if c["like"]],
    }


def cancel_moment_task(request: ApiRequest) -> dict[str, Any]:
    _moment(request).cancelled = True
    return {}


def get_user_behavior_data(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    userids = str_list(request.body, "userid", max_items=100)
    start, end = optional_int(request.body, "start_time", 0), optional_int(request.body, "end_time", 0)
    if not userids or not start or not end or end < start or end - start > 30 * 86400:
        raise ApiError(ErrCode.INVALID_PARAMETER, "userid and a window of at most 30 days")
    rows = []
    day = datetime.fromtimestamp(start, _CHINA).date()
    while (stamp := int(datetime(day.year, day.month, day.day, tzinfo=_CHINA).timestamp())) <= end:
        figures = [state.reach.behaviour.get((u, day.isoformat()), {}) for u in userids]
        row: dict[str, Any] = {"stat_time": stamp}
        for name in ("new_apply_cnt", "new_contact_cnt", "chat_cnt", "message_cnt", "negative_feedback_cnt"):
            row[name] = sum(int(f.get(name, 0)) for f in figures)
        # Several members in one call are aggregated (a mean of rates here): callers ask one guide a call.
        rates = [float(f["reply_percentage"]) for f in figures if "reply_percentage" in f]
        times = [float(f["avg_reply_time"]) for f in figures if "avg_reply_time" in f]
        row["reply_percentage"] = round(sum(rates) / len(rates), 2) if rates else 0
        row["avg_reply_time"] = round(sum(times) / len(times)) if times else 0
        rows.append(row)
        day += timedelta(days=1)
    return {"behavior_data": rows}


ENDPOINTS = (
    Endpoint("externalcontact/add_moment_task", "POST", add_moment_task),
    Endpoint("externalcontact/get_moment_task_result", "GET", get_moment_task_result),
    Endpoint("externalcontact/get_moment_task", "POST", get_moment_task),
    Endpoint("externalcontact/get_moment_customer_list", "POST", get_moment_customer_list),
    Endpoint("externalcontact/get_moment_send_result", "POST", get_moment_send_result),
    Endpoint("externalcontact/get_moment_comments", "POST", get_moment_comments),
    Endpoint("externalcontact/cancel_moment_task", "POST", cancel_moment_task),
    Endpoint("externalcontact/get_user_behavior_data", "POST", get_user_behavior_data),
)

