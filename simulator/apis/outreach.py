"""Reaching customers: ``send_welcome_msg``, ``add_msg_template`` (contact ways: ``contactways.py``)."""

from __future__ import annotations

from typing import Any

from simulator.apis.base import (
    ApiRequest,
    Endpoint,
    optional_dict,
    optional_str,
    require_member,
    require_str,
    str_list,
)
from simulator.errors import ApiError, ErrCode
from simulator.models import MsgTemplate, WelcomeMessage
from simulator.reach import CustomerResult, MassTask
from simulator.state import WELCOME_CODE_TTL

__all__ = ["ENDPOINTS"]

_ATTACHMENT_TYPES = frozenset({"image", "link", "miniprogram", "video", "file"})
_MAX_ATTACHMENTS = 9
_TEXT_MAX_BYTES = 4000
_GROUPS_MAX = 2000  # chat_id_list of a group mass send


def _text_and_attachments(request: ApiRequest) -> tuple[str, list[dict[str, Any]]]:
    """The shared shape of welcome and mass messages: optional text, ≤9 typed attachments, not both empty."""
    text = optional_dict(request.body, "text") or {}
    content = optional_str(text, "content")
    if len(content.encode()) > _TEXT_MAX_BYTES:
        raise ApiError(ErrCode.CONTENT_TOO_LARGE, "text.content")
    attachments = request.body.get("attachments") or []
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        raise ApiError(ErrCode.INVALID_PARAMETER, "attachments must be a list of objects")
    if len(attachments) > _MAX_ATTACHMENTS:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"at most {_MAX_ATTACHMENTS} attachments")
    for attachment in attachments:
        msgtype = attachment.get("msgtype")
        if msgtype not in _ATTACHMENT_TYPES or not isinstance(attachment.get(msgtype), dict):
            raise ApiError(ErrCode.INVALID_MSGTYPE, f"attachment msgtype {msgtype!r}")
    if not content and not attachments:
        raise ApiError(ErrCode.EMPTY_CONTENT, "text and attachments are both empty")
    return content, attachments


def send_welcome_msg(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    code_value = require_str(request.body, "welcome_code", ErrCode.INVALID_WELCOME_CODE)
    content, attachments = _text_and_attachments(request)
    code = state.welcome_codes.get(code_value)
    # Unknown, already used and expired codes all get 41051 from WeCom.
    if code is None:
        raise ApiError(ErrCode.INVALID_WELCOME_CODE, "unknown welcome_code")
    if code.used_at is not None:
        raise ApiError(ErrCode.INVALID_WELCOME_CODE, "welcome_code already used")
    if request.now > code.issued_at + WELCOME_CODE_TTL:
        raise ApiError(ErrCode.INVALID_WELCOME_CODE, "welcome_code expired")
    code.used_at = request.now
    state.welcome_messages.append(
        WelcomeMessage(code.code, code.userid, code.external_userid, content, attachments, request.now)
    )
    return {}


def add_msg_template(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    chat_type = optional_str(request.body, "chat_type", "single")
    if chat_type not in ("single", "group"):
        raise ApiError(ErrCode.INVALID_PARAMETER, "chat_type")
    external_userids = str_list(request.body, "external_userid", max_items=10000)
    chat_ids = str_list(request.body, "chat_id_list", max_items=_GROUPS_MAX) if chat_type == "group" else []
    sender = optional_str(request.body, "sender")
    if sender:
        require_member(state, sender)
    elif chat_type == "group":
        raise ApiError(ErrCode.INVALID_PARAMETER, "a group mass send needs its sender")
    elif not external_userids:
        raise ApiError(ErrCode.INVALID_PARAMETER, "sender and external_userid are both empty")
    content, attachments = _text_and_attachments(request)
    fail_list = [
        ext for ext in external_userids if ext not in state.contacts or (sender and state.relation(sender, ext) is None)
    ]
    template = MsgTemplate(
        state.ids.make("msg", 24), chat_type, sender, external_userids, content, attachments, request.now, fail_list,
        # A group send goes to the sender's groups among chat_id_list (all of them when none is named).
        [c for c in chat_ids or state.group_chats if c in state.group_chats and state.group_chats[c].owner == sender]
        if chat_type == "group" else [],
    )
    state.msg_templates.append(template)
    if chat_type == "single" and sender:  # the task its sender confirms (simulator/apis/groupmsg.py)
        failed = set(fail_list)
        state.reach.mass[template.msgid] = MassTask(
            template.msgid, sender, request.now, [CustomerResult(ext) for ext in external_userids if ext not in failed]
        )
    return {"fail_list": fail_list, "msgid": template.msgid}


ENDPOINTS = (
    Endpoint("externalcontact/send_welcome_msg", "POST", send_welcome_msg),
    Endpoint("externalcontact/add_msg_template", "POST", add_msg_template),
)
