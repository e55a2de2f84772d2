"""The WeCom APIs of customer groups, through the project's client (``deps.wecom.call``): join ways,
the group welcome library, group mass sends and their results, and the group statistics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.deps import Deps

__all__ = [
    "JoinWayBody", "add_group_welcome", "add_join_way", "add_group_msg", "del_group_welcome", "del_join_way",
    "edit_group_welcome", "get_join_way", "groupmsg_send_result", "groupmsg_task", "list_owner_chats",
    "statistic", "statistic_by_day", "update_join_way",
]

Json = dict[str, Any]
JoinWayBody = Json


async def add_join_way(deps: Deps, body: JoinWayBody) -> str:
    answer = await deps.wecom.call("externalcontact/groupchat/add_join_way", body=body)
    return str(answer["config_id"])


async def get_join_way(deps: Deps, config_id: str) -> Json:
    answer = await deps.wecom.call("externalcontact/groupchat/get_join_way", body={"config_id": config_id})
    return dict(answer.get("join_way", {}))


async def update_join_way(deps: Deps, config_id: str, body: JoinWayBody) -> None:
    await deps.wecom.call("externalcontact/groupchat/update_join_way", body={"config_id": config_id, **body})


async def del_join_way(deps: Deps, config_id: str) -> None:
    await deps.wecom.call("externalcontact/groupchat/del_join_way", body={"config_id": config_id})


async def list_owner_chats(deps: Deps, owners: Sequence[str]) -> list[str]:
    """The live groups of these owners (≤ 100 a call), every page."""
    chat_ids: list[str] = []
    cursor = ""
    while True:
        answer = await deps.wecom.call("externalcontact/groupchat/list", body={
            "status_filter": 0, "owner_filter": {"userid_list": list(owners)}, "cursor": cursor, "limit": 1000})
        chat_ids += [str(c["chat_id"]) for c in answer.get("group_chat_list", [])]
        cursor = str(answer.get("next_cursor", ""))
        if not cursor:
            return chat_ids


async def add_group_welcome(deps: Deps, body: Json) -> str:
    answer = await deps.wecom.call("externalcontact/group_welcome_template/add", body=body)
    return str(answer["template_id"])


async def edit_group_welcome(deps: Deps, template_id: str, body: Json) -> None:
    await deps.wecom.call("externalcontact/group_welcome_template/edit", body={"template_id": template_id, **body})


async def del_group_welcome(deps: Deps, template_id: str) -> None:
    await deps.wecom.call("externalcontact/group_welcome_template/del", body={"template_id": template_id})


async def add_group_msg(deps: Deps, sender: str, chat_ids: Sequence[str], text: str,
                        attachments: Sequence[Json]) -> str:
    """A group mass send (``chat_type`` group) for ``sender`` to confirm in the client; its msgid."""
    body: Json = {"chat_type": "group", "sender": sender, "chat_id_list": list(chat_ids),
                  "text": {"content": text}, "attachments": list(attachments)}
    answer = await deps.wecom.call("externalcontact/add_msg_template", body=body)
    return str(answer["msgid"])


async def groupmsg_task(deps: Deps, msgid: str) -> list[Json]:
    return await _paged(deps, "externalcontact/get_groupmsg_task", {"msgid": msgid, "limit": 1000}, "task_list")


async def groupmsg_send_result(deps: Deps, msgid: str, userid: str) -> list[Json]:
    return await _paged(deps, "externalcontact/get_groupmsg_send_result",
                        {"msgid": msgid, "userid": userid, "limit": 1000}, "send_list")


async def _paged(deps: Deps, api: str, body: Json, key: str) -> list[Json]:
    rows: list[Json] = []
    cursor = ""
    while True:
        answer = await deps.wecom.call(api, body={**body, "cursor": cursor})
        rows += list(answer.get(key, []))
        cursor = str(answer.get("next_cursor", ""))
        if not cursor:
            return rows


async def statistic(deps: Deps, day_start: int, owners: Sequence[str]) -> list[Json]:
    """``groupchat/statistic`` for one day and ≤ 100 owners: ``[{owner, data}]``, every page."""
    items: list[Json] = []
    offset = 0
    while True:
        answer = await deps.wecom.call("externalcontact/groupchat/statistic", body={
            "day_begin_time": day_start, "day_end_time": day_start, "owner_filter": {"userid_list": list(owners)},
            "offset": offset, "limit": 1000})
        page = list(answer.get("items", []))
        items += page
        offset = int(answer.get("next_offset", offset + len(page)))
        if not page or offset >= int(answer.get("total", 0)):
            return items


async def statistic_by_day(deps: Deps, day_start: int, day_end: int, owners: Sequence[str]) -> list[Json]:
    """``statistic_group_by_day``: these owners' groups together, one item per day."""
    answer = await deps.wecom.call("externalcontact/groupchat/statistic_group_by_day", body={
        "day_begin_time": day_start, "day_end_time": day_end, "owner_filter": {"userid_list": list(owners)}})
    return list(answer.get("items", []))
