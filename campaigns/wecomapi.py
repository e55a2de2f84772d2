"""The WeCom APIs of pushes guides confirm, through the project's client (``deps.wecom.call``):
mass-send results, reminders and cancelling [92135, 96355], moments [96351, 96923], behaviour data [96358]."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from bot.deps import Deps

__all__ = [
    "add_moment_task", "cancel_groupmsg_send", "groupmsg_list", "groupmsg_send_result", "groupmsg_task",
    "moment_comments", "moment_customers", "moment_task", "moment_task_result", "remind_groupmsg_send",
    "user_behavior_data",
]

Json = dict[str, Any]


async def _pages(deps: Deps, api: str, body: Json, key: str) -> AsyncIterator[list[Json]]:
    """Every page of a cursor-paged API, one list of rows at a time."""
    cursor = ""
    while True:
        data = await deps.wecom.call(f"externalcontact/{api}", body=body | ({"cursor": cursor} if cursor else {}))
        yield list(data.get(key) or [])
        cursor = str(data.get("next_cursor") or "")
        if not cursor:
            return


def groupmsg_list(deps: Deps, start: int, end: int) -> AsyncIterator[list[Json]]:
    """The corp's customer mass messages created in [start, end] (epoch seconds, ≤ one month)."""
    body = {"chat_type": "single", "start_time": start, "end_time": end, "filter_type": 0, "limit": 100}
    return _pages(deps, "get_groupmsg_list_v2", body, "group_msg_list")


def groupmsg_task(deps: Deps, msgid: str) -> AsyncIterator[list[Json]]:
    """Each member's status on the task: 0 unsent, 2 sent (with send_time)."""
    return _pages(deps, "get_groupmsg_task", {"msgid": msgid, "limit": 1000}, "task_list")


def groupmsg_send_result(deps: Deps, msgid: str, userid: str) -> AsyncIterator[list[Json]]:
    """Each customer's result: 0 unsent, 1 sent, 2 not a friend, 3 over the limit."""
    return _pages(deps, "get_groupmsg_send_result", {"msgid": msgid, "userid": userid, "limit": 1000}, "send_list")


async def remind_groupmsg_send(deps: Deps, msgid: str) -> None:
    await deps.wecom.call("externalcontact/remind_groupmsg_send", body={"msgid": msgid})


async def cancel_groupmsg_send(deps: Deps, msgid: str) -> None:
    await deps.wecom.call("externalcontact/cancel_groupmsg_send", body={"msgid": msgid})


async def add_moment_task(
    deps: Deps, text: str, attachments: Sequence[Json], senders: Sequence[str], tag_ids: Sequence[str]
) -> str:
    body: Json = {"text": {"content": text}, "visible_range": {"sender_list": {"user_list": list(senders)}}}
    if tag_ids:
        body["visible_range"]["external_contact_list"] = {"tag_list": list(tag_ids)}
    if attachments:
        body["attachments"] = list(attachments)
    data = await deps.wecom.call("externalcontact/add_moment_task", body=body)
    return str(data["jobid"])


async def moment_task_result(deps: Deps, jobid: str) -> Json:
    """``{"status": 1 started / 2 running / 3 done, "result": {"moment_id", ...}}``."""
    return await deps.wecom.call("externalcontact/get_moment_task_result", method="GET", params={"jobid": jobid})


def moment_task(deps: Deps, moment_id: str) -> AsyncIterator[list[Json]]:
    """Each member asked to publish: publish_status 0 not yet, 1 published."""
    return _pages(deps, "get_moment_task", {"moment_id": moment_id, "limit": 1000}, "task_list")


def moment_customers(deps: Deps, moment_id: str, userid: str) -> AsyncIterator[list[Json]]:
    """The customers who could see what ``userid`` published (get_moment_send_result)."""
    body = {"moment_id": moment_id, "userid": userid, "limit": 1000}
    return _pages(deps, "get_moment_send_result", body, "customer_list")


async def moment_comments(deps: Deps, moment_id: str, userid: str) -> Json:
    return await deps.wecom.call(
        "externalcontact/get_moment_comments", body={"moment_id": moment_id, "userid": userid}
    )


async def user_behavior_data(deps: Deps, userid: str, start: int, end: int) -> list[Json]:
    """One guide's days in [start, end]: one call per guide, as several userids are summed together."""
    data = await deps.wecom.call(
        "externalcontact/get_user_behavior_data", body={"userid": [userid], "start_time": start, "end_time": end}
    )
    return list(data.get("behavior_data") or [])
