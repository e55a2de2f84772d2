"""The simulator's customer-group APIs keep WeCom's shapes, limits and errcodes: join ways over ≤ 5
groups with a ≤ 30-character state, an automatic group when every listed one is full, a group welcome
library of 100, statistics per owner (≤ 100 a call), and group mass sends with their results."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from simulator import SimulatorServer, running_simulator
from simulator.groupjoins import SCAN_FULL, customer_joins_via_way, member_confirms_group_send
from simulator.models import ChatMember
from tests.test_simulator import WeCom, make_state


@pytest.fixture
async def wecom() -> AsyncIterator[WeCom]:
    async with running_simulator(make_state()) as server, aiohttp.ClientSession() as http:
        client = WeCom(server, http)
        assert (await client.fetch_token())["errcode"] == 0
        yield client


def groups(server: SimulatorServer, owner: str, count: int) -> list[str]:
    return [server.state.add_group_chat(owner, f"会员{i}群").chat_id for i in range(count)]


async def test_join_ways_keep_wecoms_limits_and_open_a_group_when_all_are_full(wecom: WeCom) -> None:
    state = wecom.server.state
    chats = groups(wecom.server, "guide_a", 6)
    way = {"scene": 2, "auto_create_room": 1, "room_base_name": "会员群", "room_base_id": 7, "state": "gs_sh01"}
    too_many = await wecom.post("externalcontact/groupchat/add_join_way", {**way, "chat_id_list": chats})
    assert too_many["errcode"] == 40058
    unknown = await wecom.post("externalcontact/groupchat/add_join_way", {**way, "chat_id_list": ["wrNOPE"]})
    assert unknown["errcode"] == 40050
    long_state = await wecom.post("externalcontact/groupchat/add_join_way",
                                  {**way, "chat_id_list": chats[:1], "state": "s" * 31})
    assert long_state["errcode"] == 40058
    made = await wecom.post("externalcontact/groupchat/add_join_way", {**way, "chat_id_list": chats[:1]})
    config_id = made["config_id"]
    got = (await wecom.post("externalcontact/groupchat/get_join_way", {"config_id": config_id}))["join_way"]
    assert got["chat_id_list"] == chats[:1] and got["qr_code"] and got["state"] == "gs_sh01"

    first = state.group_chats[chats[0]]
    for i in range(SCAN_FULL - len(first.members)):
        first.members[f"wmFull{i}"] = ChatMember(f"wmFull{i}", 2, 0, 3)
    events = customer_joins_via_way(state, config_id, "wmLate")
    assert len(events) == 2 and "<ChangeType><![CDATA[create]]>" in events[0]
    assert "<State><![CDATA[gs_sh01]]></State>" in events[1] and "<JoinScene>3</JoinScene>" in events[1]
    opened = state.join_ways[config_id].chat_id_list[-1]
    assert state.group_chats[opened].name == "会员群7" and state.join_ways[config_id].room_base_id == 8
    member = next(m for m in (await wecom.post("externalcontact/groupchat/get", {"chat_id": opened}))["group_chat"]
                  ["member_list"] if m["userid"] == "wmLate")
    assert (member["join_scene"], member["state"]) == (3, "gs_sh01")

    assert (await wecom.post("externalcontact/groupchat/del_join_way", {"config_id": config_id}))["errcode"] == 0
    gone = await wecom.post("externalcontact/groupchat/get_join_way", {"config_id": config_id})
    assert gone["errcode"] == 40058


async def test_the_group_welcome_library_holds_100(wecom: WeCom) -> None:
    empty = await wecom.post("externalcontact/group_welcome_template/add", {})
    assert empty["errcode"] == 44004
    for i in range(100):
        made = await wecom.post("externalcontact/group_welcome_template/add", {"text": {"content": f"欢迎{i}"}})
        assert made["errcode"] == 0
    full = await wecom.post("externalcontact/group_welcome_template/add", {"text": {"content": "再来一个"}})
    assert full["errcode"] == 40058


async def test_statistics_per_owner_and_group_mass_send_results(wecom: WeCom) -> None:
    state = wecom.server.state
    chats = groups(wecom.server, "guide_a", 2)
    today = int(state.now()) - int(state.now()) % 86400
    too_many = await wecom.post("externalcontact/groupchat/statistic", {
        "day_begin_time": today, "owner_filter": {"userid_list": [f"u{i}" for i in range(101)]}})
    assert too_many["errcode"] == 40058
    sent = await wecom.post("externalcontact/add_msg_template", {
        "chat_type": "group", "sender": "guide_a", "chat_id_list": chats, "text": {"content": "上新啦"}})
    assert sent["errcode"] == 0
    task = await wecom.post("externalcontact/get_groupmsg_task", {"msgid": sent["msgid"]})
    assert task["task_list"] == [{"userid": "guide_a", "status": 0}]
    member_confirms_group_send(state, sent["msgid"])
    result = await wecom.post("externalcontact/get_groupmsg_send_result", {"msgid": sent["msgid"], "userid": "guide_a"})
    assert sorted(r["chat_id"] for r in result["send_list"] if r["status"] == 1) == sorted(chats)
    stats = await wecom.post("externalcontact/groupchat/statistic", {
        "day_begin_time": today, "owner_filter": {"userid_list": ["guide_a"]}})
    data = stats["items"][0]["data"]
    assert stats["total"] == 1 and (data["chat_total"], data["chat_has_msg"], data["msg_total"]) == (2, 2, 2)
    by_day = await wecom.post("externalcontact/groupchat/statistic_group_by_day", {
        "day_begin_time": today, "owner_filter": {"userid_list": ["guide_a"]}})
    assert by_day["items"][0]["stat_time"] == today and by_day["items"][0]["data"]["new_chat_cnt"] == 2
