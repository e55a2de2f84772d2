"""The simulator's address book, contact ways and media answer with WeCom's shapes and errcodes,
and send the ``change_contact`` callbacks an admin's changes cause."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.xmlparse import parse_xml
from simulator import SimulatorServer, running_simulator
from simulator.addressbook import add_department, delete_member, hire_member, seed_member
from simulator.qrcodes import qr_png, scan_contact_way
from tests.test_simulator import WeCom, make_state


@pytest.fixture
async def wecom() -> AsyncIterator[WeCom]:
    state = make_state()
    add_department(state, 2, "门店")
    add_department(state, 11, "南京西路店", parentid=2)
    seed_member(state, "mgr", "张店长", [11], leader=True)
    seed_member(state, "guide_c", "王导购", [11, 2])
    async with running_simulator(state) as server, aiohttp.ClientSession() as http:
        client = WeCom(server, http)
        assert (await client.fetch_token())["errcode"] == 0
        yield client


def sim_of(wecom: WeCom) -> SimulatorServer:
    return wecom.server


async def test_departments_members_and_leaders_in_wecom_shapes(wecom: WeCom) -> None:
    departments = (await wecom.get("department/list", id="2"))["department"]
    assert [(d["id"], d["parentid"]) for d in departments] == [(2, 1), (11, 2)]
    assert departments[1]["department_leader"] == ["mgr"] and departments[1]["name"] == "南京西路店"
    assert (await wecom.get("department/list", id="99"))["errcode"] == 60123

    page1 = await wecom.post("user/list_id", {"limit": 3})
    assert len(page1["dept_user"]) == 3 and page1["next_cursor"]
    page2 = await wecom.post("user/list_id", {"cursor": page1["next_cursor"], "limit": 3})
    pairs = {(p["userid"], p["department"]) for p in page1["dept_user"] + page2["dept_user"]}
    assert ("guide_c", 11) in pairs and ("guide_c", 2) in pairs  # one pair per member and department
    assert page2["next_cursor"] == ""

    user = await wecom.get("user/get", userid="mgr")
    assert (user["department"], user["main_department"], user["is_leader_in_dept"]) == ([11], 11, [1])
    assert (await wecom.get("user/get", userid="nobody"))["errcode"] == 60111
    listed = (await wecom.get("user/list", department_id="2", fetch_child="1"))["userlist"]
    assert {u["userid"] for u in listed} == {"mgr", "guide_c"}


async def test_contact_way_lifecycle_and_its_errcodes(wecom: WeCom) -> None:
    body = {"type": 2, "scene": 2, "state": "s_d11", "remark": "南京西路店门店码", "skip_verify": True,
            "user": ["guide_c"], "party": [11]}
    made = await wecom.post("externalcontact/add_contact_way", body)
    assert made["errcode"] == 0 and made["config_id"] and made["qr_code"]
    too_long = await wecom.post("externalcontact/add_contact_way", body | {"state": "x" * 31})
    assert too_long["errcode"] == 40058 and "state" in too_long["errmsg"]
    unknown = await wecom.post("externalcontact/add_contact_way", body | {"user": ["ghost"]})
    assert unknown["errcode"] == 60111
    single = await wecom.post("externalcontact/add_contact_way", body | {"type": 1})
    assert single["errcode"] == 40058  # one user, no party, for type 1
    assert (await wecom.post("externalcontact/add_contact_way", body | {"party": [404]}))["errcode"] == 60123

    config_id = made["config_id"]
    assert (await wecom.post("externalcontact/update_contact_way", {"config_id": config_id, "user": ["mgr"],
                                                                    "party": []}))["errcode"] == 0
    way = (await wecom.post("externalcontact/get_contact_way", {"config_id": config_id}))["contact_way"]
    assert (way["user"], way["party"], way["state"]) == (["mgr"], [], "s_d11")

    # The picture behind qr_code is served until the code is deleted.
    async with wecom.http.get(made["qr_code"]) as response:
        assert response.status == 200 and await response.read() == qr_png(config_id)
    assert (await wecom.post("externalcontact/del_contact_way", {"config_id": config_id}))["errcode"] == 0
    twice = await wecom.post("externalcontact/del_contact_way", {"config_id": config_id})
    assert twice["errcode"] == 40058 and "config_id" in twice["errmsg"]
    assert (await wecom.post("externalcontact/update_contact_way", {"config_id": config_id}))["errcode"] == 40058
    async with wecom.http.get(made["qr_code"]) as response:
        assert response.status == 404


async def test_scanning_a_code_adds_the_customer_with_its_state(wecom: WeCom) -> None:
    state = sim_of(wecom).state
    made = await wecom.post("externalcontact/add_contact_way",
                            {"type": 2, "scene": 2, "state": "camp_x", "user": ["mgr", "guide_c"]})
    first = parse_xml(scan_contact_way(state, made["config_id"], "wmScan1"))
    second = parse_xml(scan_contact_way(state, made["config_id"], "wmScan2"))
    assert (first["State"], first["ChangeType"]) == ("camp_x", "add_external_contact")
    assert {first["UserID"], second["UserID"]} == {"mgr", "guide_c"}  # scans spread over the members


async def test_media_upload_takes_a_multipart_image(wecom: WeCom) -> None:
    picture = qr_png("anything")
    form = aiohttp.FormData()
    form.add_field("media", picture, filename="code.png", content_type="image/png")
    url = f"{wecom.server.url}/cgi-bin/media/upload"
    async with wecom.http.post(url, params={"access_token": wecom.token, "type": "image"}, data=form) as response:
        answer = await response.json()
    assert answer["errcode"] == 0 and answer["type"] == "image"
    assert sim_of(wecom).state.media[answer["media_id"]].content == picture
    form = aiohttp.FormData()
    form.add_field("media", b"not a picture", filename="x.png", content_type="image/png")
    async with wecom.http.post(url, params={"access_token": wecom.token, "type": "image"}, data=form) as response:
        assert (await response.json())["errcode"] == 40004  # 不合法的媒体文件类型
    async with wecom.http.post(url, params={"access_token": wecom.token, "type": "image"}, data=b"") as response:
        assert (await response.json())["errcode"] == 41005


def test_address_book_changes_make_change_contact_callbacks() -> None:
    state = make_state()
    add_department(state, 11, "南京西路店")
    created = parse_xml(hire_member(state, "new_g", "新导购", [11], leader=True))
    assert (created["Event"], created["ChangeType"], created["UserID"]) == ("change_contact", "create_user", "new_g")
    assert (created["Department"], created["IsLeaderInDept"]) == ("11", "1")
    deleted = parse_xml(delete_member(state, "new_g"))
    assert deleted["ChangeType"] == "delete_user" and state.members["new_g"].status == 5
    assert state.departments[11].department_leader == []
