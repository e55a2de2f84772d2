"""Customer group chats: ``externalcontact/groupchat/list`` and ``groupchat/get``."""

from __future__ import annotations

from typing import Any

from simulator.apis.base import (
    ApiRequest,
    Endpoint,
    bounded_limit,
    decode_cursor,
    optional_dict,
    optional_int,
    page,
    require_str,
    str_list,
)
from simulator.errors import ApiError, ErrCode
from simulator.models import ChatMember, GroupChat
from simulator.state import SimulatorState

__all__ = ["ENDPOINTS"]


def list_group_chats(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    if "limit" not in request.body:
        raise ApiError(ErrCode.INVALID_PARAMETER, "limit is required")
    limit = bounded_limit(request.body, default=100, maximum=1000)
    status_filter = optional_int(request.body, "status_filter", 0)
    owner_filter = optional_dict(request.body, "owner_filter") or {}
    owners = set(str_list(owner_filter, "userid_list", max_items=100))
    chats = [
        chat
        for chat in state.group_chats.values()
        if (status_filter == 0 or chat.status == status_filter) and (not owners or chat.owner in owners)
    ]
    offset = decode_cursor(request.body)
    end, next_cursor = page(len(chats), offset, limit)
    return {
        "group_chat_list": [{"chat_id": chat.chat_id, "status": chat.status} for chat in chats[offset:end]],
        "next_cursor": next_cursor,
    }


def _member_view(state: SimulatorState, member: ChatMember, *, need_name: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "userid": member.userid,
        "type": member.type,
        "join_time": member.join_time,
        "join_scene": member.join_scene,
        "invitor": {"userid": member.invitor},
        "group_nickname": "",
    }
    if member.state:
        view["state"] = member.state
    if need_name:
        person = state.members.get(member.userid) or state.contacts.get(member.userid)
        view["name"] = person.name if person else ""
    return view


def _chat_view(state: SimulatorState, chat: GroupChat, *, need_name: bool) -> dict[str, Any]:
    return {
        "chat_id": chat.chat_id,
        "name": chat.name,
        "owner": chat.owner,
        "create_time": chat.create_time,
        "notice": chat.notice,
        "member_list": [_member_view(state, m, need_name=need_name) for m in chat.members.values()],
        "admin_list": [{"userid": userid} for userid in chat.admin_list],
        "member_version": f"{chat.chat_id}:{chat.version}",
    }


def get_group_chat(request: ApiRequest) -> dict[str, Any]:
    chat_id = require_str(request.body, "chat_id", ErrCode.INVALID_CHAT_ID)
    chat = request.state.group_chats.get(chat_id)
    if chat is None:
        raise ApiError(ErrCode.INVALID_CHAT_ID, chat_id)
    need_name = optional_int(request.body, "need_name", 0) == 1
    return {"group_chat": _chat_view(request.state, chat, need_name=need_name)}


ENDPOINTS = (
    Endpoint("externalcontact/groupchat/list", "POST", list_group_chats),
    Endpoint("externalcontact/groupchat/get", "POST", get_group_chat),
)
