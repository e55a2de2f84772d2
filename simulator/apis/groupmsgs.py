"""Group mass-send results (``chat_type: group``): the list, the owner's task and each group's result,
cursor-paged, for what ``add_msg_template`` made (``outreach.py``); the owner's confirmation in the
client is ``simulator.groupjoins.member_confirms_group_send``. The endpoints are ``groupmsg.py``'s,
which hand a group send here (customer sends are its own ``MassTask``s)."""

from __future__ import annotations

from typing import Any

from simulator.apis.base import (
    ApiRequest,
    bounded_limit,
    decode_cursor,
    optional_int,
    optional_str,
    page,
    require_str,
)
from simulator.errors import ApiError, ErrCode
from simulator.models import MsgTemplate

__all__ = ["group_list_v2", "group_send_result", "group_task", "is_group_send"]

_MONTH = 31 * 86400


def _template(request: ApiRequest) -> MsgTemplate:
    msgid = require_str(request.body, "msgid", ErrCode.INVALID_PARAMETER)
    template = next((t for t in request.state.msg_templates if t.msgid == msgid), None)
    if template is None:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"invalid msgid {msgid}")
    return template


def group_list_v2(request: ApiRequest) -> dict[str, Any]:
    chat_type = optional_str(request.body, "chat_type", "single")
    start, end = optional_int(request.body, "start_time", 0), optional_int(request.body, "end_time", 0)
    if not start or not end or end < start or end - start > _MONTH:
        raise ApiError(ErrCode.INVALID_PARAMETER, "start_time/end_time: a window of at most one month")
    creator = optional_str(request.body, "creator")
    found = [t for t in request.state.msg_templates
             if t.chat_type == chat_type and start <= t.created_at <= end and (not creator or t.sender == creator)]
    offset = decode_cursor(request.body)
    stop, next_cursor = page(len(found), offset, bounded_limit(request.body, default=50, maximum=100))
    return {"next_cursor": next_cursor, "group_msg_list": [
        {"msgid": t.msgid, "creator": t.sender, "create_time": int(t.created_at), "create_type": 0,
         "text": {"content": t.text}, "attachments": t.attachments} for t in found[offset:stop]]}


def group_task(request: ApiRequest) -> dict[str, Any]:
    template = _template(request)
    tasks = [{"userid": template.sender, "status": 2 if template.sent_at is not None else 0,
              **({"send_time": int(template.sent_at)} if template.sent_at is not None else {})}]
    offset = decode_cursor(request.body)
    stop, next_cursor = page(len(tasks), offset, bounded_limit(request.body, default=500, maximum=1000))
    return {"next_cursor": next_cursor, "task_list": tasks[offset:stop]}


def group_send_result(request: ApiRequest) -> dict[str, Any]:
    template = _template(request)
    require_str(request.body, "userid", ErrCode.INVALID_PARAMETER)
    sent = template.sent_at is not None
    if template.chat_type == "group":
        rows = [{"chat_id": c, "userid": template.sender, "status": 1 if sent else 0,
                 **({"send_time": int(template.sent_at or 0)} if sent else {})} for c in template.chat_ids]
    else:
        rows = [{"external_userid": e, "userid": template.sender, "status": 1 if sent else 0}
                for e in template.external_userids if e not in template.fail_list]
    offset = decode_cursor(request.body)
    stop, next_cursor = page(len(rows), offset, bounded_limit(request.body, default=500, maximum=1000))
    return {"next_cursor": next_cursor, "send_list": rows[offset:stop]}


def is_group_send(request: ApiRequest) -> bool:
    """The request's ``msgid`` names a group mass send (not a customer one)."""
    msgid = request.body.get("msgid")
    return any(t.msgid == msgid and t.chat_type == "group" for t in request.state.msg_templates)
