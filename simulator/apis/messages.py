"""App messages to members: ``message/send`` and ``message/update_template_card``."""

from __future__ import annotations

import json
import re
from typing import Any

from simulator.apis.base import ApiRequest, Endpoint, optional_dict, optional_int, optional_str, str_list
from simulator.errors import ApiError, ErrCode
from simulator.models import MEMBER_ACTIVE, DeliveredMessage, TemplateCardIssue
from simulator.state import CARD_RESPONSE_TTL, SimulatorState

__all__ = ["ENDPOINTS"]

_CONTENT_MAX_BYTES = 2048  # text and markdown app messages
_TASK_ID = re.compile(r"[A-Za-z0-9_\-@]{1,128}")
_CARD_TYPES = frozenset(
    {"text_notice", "news_notice", "button_interaction", "vote_interaction", "multiple_interaction"}
)
# Cards with something to click get a response_code back, to update them once later.
_INTERACTIVE_CARDS = frozenset({"button_interaction", "vote_interaction", "multiple_interaction"})
_OTHER_MSGTYPES = frozenset({"textcard", "news", "mpnews", "image", "file", "voice", "video"})
_MAX_BUTTONS = 6
_DEFAULT_DUPLICATE_INTERVAL = 1800


def _check_agent(request: ApiRequest) -> None:
    agent = request.body.get("agentid")
    if agent is None or agent == "":
        raise ApiError(ErrCode.MISSING_AGENTID)
    if str(agent) != str(request.state.agent_id):
        raise ApiError(ErrCode.INVALID_AGENTID, str(agent))


def _check_content(kind: str, payload: dict[str, Any]) -> None:
    content = optional_str(payload, "content")
    if not content:
        raise ApiError(ErrCode.EMPTY_CONTENT, f"{kind}.content")
    if len(content.encode()) > _CONTENT_MAX_BYTES:
        raise ApiError(ErrCode.CONTENT_TOO_LARGE, f"{kind}.content exceeds {_CONTENT_MAX_BYTES} bytes")


def _check_card(state: SimulatorState, card: dict[str, Any]) -> str:
    """Validate a template_card; returns its card_type."""
    card_type = optional_str(card, "card_type")
    if card_type not in _CARD_TYPES:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"card_type {card_type!r}")
    task_id = optional_str(card, "task_id")
    if card_type in _INTERACTIVE_CARDS and not task_id:
        raise ApiError(ErrCode.INVALID_PARAMETER, "task_id is required for interactive cards")
    if task_id and not _TASK_ID.fullmatch(task_id):
        raise ApiError(ErrCode.INVALID_PARAMETER, "task_id: 1-128 of letters, digits, _-@")
    if task_id in state.card_task_ids:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"task_id {task_id} already used by this app")
    if card_type == "text_notice" and not (card.get("main_title") or card.get("sub_title_text")):
        raise ApiError(ErrCode.INVALID_PARAMETER, "text_notice needs main_title or sub_title_text")
    if card_type == "button_interaction":
        buttons = card.get("button_list")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= _MAX_BUTTONS:
            raise ApiError(ErrCode.INVALID_PARAMETER, f"button_list needs 1..{_MAX_BUTTONS} buttons")
    return card_type


def _payload(request: ApiRequest, msgtype: str) -> dict[str, Any]:
    payload = optional_dict(request.body, msgtype)
    if payload is None:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"missing {msgtype}")
    if msgtype in ("text", "markdown"):
        _check_content(msgtype, payload)
    elif msgtype == "template_card":
        _check_card(request.state, payload)
    return payload


def _recipients(state: SimulatorState, touser: str) -> tuple[list[str], list[str]]:
    if touser == "@all":
        return [m.userid for m in state.members.values() if m.status == MEMBER_ACTIVE], []
    valid: list[str] = []
    invalid: list[str] = []
    for userid in dict.fromkeys(u for u in touser.split("|") if u):
        member = state.members.get(userid)
        (valid if member is not None and member.status == MEMBER_ACTIVE else invalid).append(userid)
    return valid, invalid


def _duplicate_of(request: ApiRequest, fingerprint: str) -> str | None:
    """WeCom drops an identical message within ``duplicate_check_interval`` and answers ok."""
    if optional_int(request.body, "enable_duplicate_check", 0) != 1:
        return None
    interval = optional_int(request.body, "duplicate_check_interval", _DEFAULT_DUPLICATE_INTERVAL)
    previous = request.state.recent_sends.get(fingerprint)
    if previous is not None and request.now - previous[1] < interval:
        return previous[0]
    return None


def send_message(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    _check_agent(request)
    msgtype = optional_str(request.body, "msgtype")
    if msgtype not in ("text", "markdown", "template_card") and msgtype not in _OTHER_MSGTYPES:
        raise ApiError(ErrCode.INVALID_MSGTYPE, msgtype)
    touser = optional_str(request.body, "touser")
    invalid_party = optional_str(request.body, "toparty")  # departments and tags are not simulated
    invalid_tag = optional_str(request.body, "totag")
    if not touser and not invalid_party and not invalid_tag:
        raise ApiError(ErrCode.INVALID_PARAMETER, "touser, toparty and totag are all empty")
    payload = _payload(request, msgtype)
    valid, invalid = _recipients(state, touser)
    answer: dict[str, Any] = {
        "invaliduser": "|".join(invalid),
        "invalidparty": invalid_party,
        "invalidtag": invalid_tag,
        "unlicenseduser": "",
    }
    if not valid:
        raise ApiError(ErrCode.ALL_RECIPIENTS_INVALID, **answer)
    fingerprint = json.dumps([sorted(valid), msgtype, payload], sort_keys=True, ensure_ascii=False)
    duplicate = _duplicate_of(request, fingerprint)
    if duplicate is not None:
        return {**answer, "msgid": duplicate}
    msgid = state.ids.make("", 40)
    state.recent_sends[fingerprint] = (msgid, request.now)
    response_code = ""
    if msgtype == "template_card":
        task_id = optional_str(payload, "task_id")
        if task_id:
            state.card_task_ids.add(task_id)
        card_type = optional_str(payload, "card_type")
        if card_type in _INTERACTIVE_CARDS:
            response_code = state.ids.make("", 48)
            state.cards[response_code] = TemplateCardIssue(
                response_code, msgid, task_id, card_type, valid, issued_at=request.now
            )
            answer["response_code"] = response_code
    agentid = int(request.body["agentid"])
    for userid in valid:
        state.messages.setdefault(userid, []).append(
            DeliveredMessage(msgid, userid, msgtype, payload, agentid, request.now, response_code)
        )
    return {**answer, "msgid": msgid}


def update_template_card(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    _check_agent(request)
    code = optional_str(request.body, "response_code")
    if not code:
        raise ApiError(ErrCode.INVALID_PARAMETER, "missing response_code")
    card = state.cards.get(code)
    # WeCom documents these failures without one distinct errcode: all answer 40058, told apart by errmsg.
    if card is None:
        raise ApiError(ErrCode.INVALID_PARAMETER, "invalid response_code")
    if card.used_at is not None:
        raise ApiError(ErrCode.INVALID_PARAMETER, "response_code already used")
    if request.now > card.issued_at + CARD_RESPONSE_TTL:
        raise ApiError(ErrCode.INVALID_PARAMETER, "response_code expired")
    button = optional_dict(request.body, "button")
    new_card = optional_dict(request.body, "template_card")
    if button is None and new_card is None:
        raise ApiError(ErrCode.INVALID_PARAMETER, "button or template_card is required")
    if button is not None and not optional_str(button, "replace_name"):
        raise ApiError(ErrCode.INVALID_PARAMETER, "button.replace_name is required")
    userids = str_list(request.body, "userids", max_items=1000)
    if optional_int(request.body, "atall", 0) == 1:
        targets, invalid = list(card.recipients), []
    elif userids:
        targets = [u for u in userids if u in card.recipients]
        invalid = [u for u in userids if u not in card.recipients]
    else:
        raise ApiError(ErrCode.INVALID_PARAMETER, "userids, partyids, tagids or atall is required")
    card.used_at = request.now
    update = {"button": button} if button is not None else {"template_card": new_card}
    for userid in targets:
        for message in state.messages.get(userid, []):
            if message.msgid == card.msgid:
                message.updates.append(update)
    return {"invaliduser": invalid}


ENDPOINTS = (
    Endpoint("message/send", "POST", send_message),
    Endpoint("message/update_template_card", "POST", update_template_card),
)
