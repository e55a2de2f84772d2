"""Customer groups beyond the mirror (``groupchat.py``): join ways (加入群聊), the group welcome
library, and the group statistics, with WeCom's shapes, limits and errcodes (REACH.md)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from simulator.apis.base import (
    ApiRequest,
    Endpoint,
    optional_dict,
    optional_int,
    optional_str,
    require_str,
    str_list,
)
from simulator.errors import ApiError, ErrCode
from simulator.models import GroupChat, GroupWelcomeTemplate, JoinWay
from simulator.qrcodes import qr_url
from simulator.state import SimulatorState

__all__ = ["ENDPOINTS", "GROUP_WELCOME_MAX", "JOIN_WAY_CHATS_MAX"]

JOIN_WAY_CHATS_MAX = 5
GROUP_WELCOME_MAX = 100
_STATE_MAX = 30
_REMARK_MAX = 30
_ROOM_BASE_NAME_MAX = 40
_OWNERS_MAX = 100
_VISIBLE_OWNERS_MAX = 1000  # without an owner filter, a wider visible range is refused (81017)
_DAY = 86400
_WELCOME_KINDS = ("image", "link", "miniprogram", "file", "video")


def _text(request: ApiRequest, name: str, limit: int) -> str:
    value = optional_str(request.body, name)
    if len(value) > limit:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"{name} exceeds {limit} characters")
    return value


def _chat_ids(request: ApiRequest) -> list[str]:
    chat_ids = str_list(request.body, "chat_id_list", required_errcode=ErrCode.INVALID_PARAMETER)
    if len(chat_ids) > JOIN_WAY_CHATS_MAX:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"chat_id_list exceeds {JOIN_WAY_CHATS_MAX} groups")
    for chat_id in chat_ids:
        if chat_id not in request.state.group_chats:
            raise ApiError(ErrCode.INVALID_CHAT_ID, chat_id)
    return list(dict.fromkeys(chat_ids))


def _fill(request: ApiRequest, way: JoinWay) -> None:
    scene = optional_int(request.body, "scene", 0)
    if scene not in (1, 2):
        raise ApiError(ErrCode.INVALID_PARAMETER, "scene must be 1 or 2")
    auto_create = optional_int(request.body, "auto_create_room", 1)
    if auto_create not in (0, 1):
        raise ApiError(ErrCode.INVALID_PARAMETER, "auto_create_room must be 0 or 1")
    way.scene, way.auto_create_room = scene, auto_create
    way.chat_id_list = _chat_ids(request)
    way.state = _text(request, "state", _STATE_MAX)
    way.remark = _text(request, "remark", _REMARK_MAX)
    way.room_base_name = _text(request, "room_base_name", _ROOM_BASE_NAME_MAX)
    way.room_base_id = optional_int(request.body, "room_base_id", way.room_base_id)
    if auto_create and not way.room_base_name:
        raise ApiError(ErrCode.INVALID_PARAMETER, "room_base_name is required with auto_create_room")


def _way(request: ApiRequest) -> JoinWay:
    config_id = require_str(request.body, "config_id", ErrCode.INVALID_PARAMETER)
    way = request.state.join_ways.get(config_id)
    if way is None:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"invalid config_id {config_id}")
    return way


def add_join_way(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    way = JoinWay(state.ids.make("", 32), 0, [])
    _fill(request, way)
    way.qr_code = qr_url(state, way.config_id) if way.scene == 2 else ""
    state.join_ways[way.config_id] = way
    return {"config_id": way.config_id}


def get_join_way(request: ApiRequest) -> dict[str, Any]:
    view = asdict(_way(request))
    del view["scans"]
    return {"join_way": view}


def update_join_way(request: ApiRequest) -> dict[str, Any]:
    """WeCom's update takes the whole join way again (scene, chat_id_list …), as add does."""
    way = _way(request)
    _fill(request, way)
    return {}


def del_join_way(request: ApiRequest) -> dict[str, Any]:
    del request.state.join_ways[_way(request).config_id]
    return {}


# --- group welcome templates (入群欢迎语素材) ----------------------------------------------------------


def _welcome_body(request: ApiRequest) -> tuple[str, dict[str, Any]]:
    text = optional_str(optional_dict(request.body, "text") or {}, "content")
    if len(text.encode()) > 4000:
        raise ApiError(ErrCode.CONTENT_TOO_LARGE, "text.content")
    attachment = {kind: dict(request.body[kind]) for kind in _WELCOME_KINDS if isinstance(request.body.get(kind), dict)}
    if len(attachment) > 1:
        raise ApiError(ErrCode.INVALID_PARAMETER, "at most one of image, link, miniprogram, file, video")
    if not text and not attachment:
        raise ApiError(ErrCode.EMPTY_CONTENT, "text and attachment are both empty")
    return text, attachment


def _template(request: ApiRequest) -> GroupWelcomeTemplate:
    template_id = require_str(request.body, "template_id", ErrCode.INVALID_PARAMETER)
    template = request.state.group_welcome_templates.get(template_id)
    if template is None:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"invalid template_id {template_id}")
    return template


def add_group_welcome(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    if len(state.group_welcome_templates) >= GROUP_WELCOME_MAX:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"the group welcome library holds {GROUP_WELCOME_MAX} templates")
    text, attachment = _welcome_body(request)
    template = GroupWelcomeTemplate(state.ids.make("msg", 24), text, attachment, request.now)
    state.group_welcome_templates[template.template_id] = template
    return {"template_id": template.template_id}


def edit_group_welcome(request: ApiRequest) -> dict[str, Any]:
    template = _template(request)
    template.text, template.attachment = _welcome_body(request)
    return {}


def get_group_welcome(request: ApiRequest) -> dict[str, Any]:
    template = _template(request)
    return {"text": {"content": template.text}, **template.attachment}


def del_group_welcome(request: ApiRequest) -> dict[str, Any]:
    template = _template(request)
    del request.state.group_welcome_templates[template.template_id]
    for chat_id, chosen in list(request.state.group_welcome_choice.items()):
        if chosen == template.template_id:
            del request.state.group_welcome_choice[chat_id]
    return {}


# --- statistics ---------------------------------------------------------------------------------------


def _owners(request: ApiRequest) -> list[str] | None:
    owner_filter = optional_dict(request.body, "owner_filter") or {}
    owners = str_list(owner_filter, "userid_list", max_items=_OWNERS_MAX)
    if owners:
        return owners
    if len({chat.owner for chat in request.state.group_chats.values()}) > _VISIBLE_OWNERS_MAX:
        raise ApiError(ErrCode.STATISTIC_RANGE_TOO_WIDE, "visible range too wide: filter by owner")
    return None


def _days(request: ApiRequest) -> list[int]:
    begin = optional_int(request.body, "day_begin_time", 0)
    if begin <= 0:
        raise ApiError(ErrCode.INVALID_PARAMETER, "day_begin_time is required")
    end = optional_int(request.body, "day_end_time", begin)
    if end < begin or end - begin > 30 * _DAY:
        raise ApiError(ErrCode.INVALID_PARAMETER, "day_end_time must be within 30 days after day_begin_time")
    if request.now - begin > 180 * _DAY:
        raise ApiError(ErrCode.INVALID_PARAMETER, "statistics are kept 180 days")
    return list(range(begin, end + 1, _DAY))


def _figures(state: SimulatorState, chats: Iterable[GroupChat], day: int) -> dict[str, int]:
    end = day + _DAY
    figures = dict.fromkeys(("new_chat_cnt", "chat_total", "chat_has_msg", "new_member_cnt", "member_total",
                             "member_has_msg", "msg_total", "migrate_trainee_chat_cnt"), 0)
    for chat in chats:
        if chat.create_time >= end:
            continue
        figures["chat_total"] += 1
        figures["new_chat_cnt"] += day <= chat.create_time < end
        figures["member_total"] += sum(1 for m in chat.members.values() if m.join_time < end)
        figures["new_member_cnt"] += sum(1 for m in chat.members.values() if day <= m.join_time < end)
        said = [(sender, at) for sender, at in state.group_messages.get(chat.chat_id, []) if day <= at < end]
        figures["chat_has_msg"] += bool(said)
        figures["member_has_msg"] += len({sender for sender, _ in said})
        figures["msg_total"] += len(said)
    return figures


def _summed(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for name, value in part.items():
            total[name] = total.get(name, 0) + value
    return total


def statistic(request: ApiRequest) -> dict[str, Any]:
    """Per owner over the days asked: ``items[{owner, data}]``, paged by offset/limit (≤ 1,000)."""
    state = request.state
    days = _days(request)
    owners = _owners(request) or sorted({chat.owner for chat in state.group_chats.values()})
    items = []
    for owner in owners:
        chats = [chat for chat in state.group_chats.values() if chat.owner == owner]
        items.append({"owner": owner, "data": _summed(_figures(state, chats, day) for day in days)})
    offset = optional_int(request.body, "offset", 0)
    limit = optional_int(request.body, "limit", 500)
    if not 1 <= limit <= 1000:
        raise ApiError(ErrCode.INVALID_PARAMETER, "limit must be 1..1000")
    page = items[offset:offset + limit]
    return {"total": len(items), "next_offset": offset + len(page), "items": page}


def statistic_group_by_day(request: ApiRequest) -> dict[str, Any]:
    """The owners' groups together, one item per day: ``items[{stat_time, data}]``."""
    state = request.state
    owners = _owners(request)
    chats = [chat for chat in state.group_chats.values() if owners is None or chat.owner in owners]
    return {"items": [{"stat_time": day, "data": _figures(state, chats, day)} for day in _days(request)]}


ENDPOINTS = (
    Endpoint("externalcontact/groupchat/add_join_way", "POST", add_join_way),
    Endpoint("externalcontact/groupchat/get_join_way", "POST", get_join_way),
    Endpoint("externalcontact/groupchat/update_join_way", "POST", update_join_way),
    Endpoint("externalcontact/groupchat/del_join_way", "POST", del_join_way),
    Endpoint("externalcontact/group_welcome_template/add", "POST", add_group_welcome),
    Endpoint("externalcontact/group_welcome_template/edit", "POST", edit_group_welcome),
    Endpoint("externalcontact/group_welcome_template/get", "POST", get_group_welcome),
    Endpoint("externalcontact/group_welcome_template/del", "POST", del_group_welcome),
    Endpoint("externalcontact/groupchat/statistic", "POST", statistic),
    Endpoint("externalcontact/groupchat/statistic_group_by_day", "POST", statistic_group_by_day),
)
