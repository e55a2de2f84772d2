"""The WeCom simulator behaves like WeCom: tokens, pagination, tags, welcome codes, cards, faults,
robots, and callbacks that are signed, encrypted and re-sent the way WeCom re-sends them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree  # our own trusted test XML

import aiohttp
import pytest
from aiohttp import web

from bot.crypto import CallbackCrypto
from simulator import CallbackSender, SimulatorServer, SimulatorState, eventxml, running_simulator

CORP_ID = "ww1436e0e65a779aee"
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
SECRET = "test-secret"
AGENT_ID = 1000002


def make_state() -> SimulatorState:
    state = SimulatorState(
        corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID, callback_token=TOKEN, encoding_aes_key=AES_KEY, seed=7
    )
    state.add_member("guide_a", "张导购", store="store_sh01")
    state.add_member("guide_b", "李导购", store="store_sh02")
    return state


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    async with running_simulator(make_state()) as server:
        yield server


@dataclass
class WeCom:
    """The bare HTTP calls our client makes, so each test reads like the API it exercises."""

    server: SimulatorServer
    http: aiohttp.ClientSession
    token: str = ""

    async def fetch_token(self, corpid: str = CORP_ID, secret: str = SECRET) -> dict[str, Any]:
        params = {"corpid": corpid, "corpsecret": secret}
        async with self.http.get(f"{self.server.url}/cgi-bin/gettoken", params=params) as response:
            answer: dict[str, Any] = await response.json()
        self.token = answer.get("access_token", self.token)
        return answer

    async def get(self, api: str, **query: str) -> dict[str, Any]:
        params = {"access_token": self.token, **query}
        async with self.http.get(f"{self.server.url}/cgi-bin/{api}", params=params) as response:
            assert response.status == 200
            answer: dict[str, Any] = await response.json()
            return answer

    async def post(self, api: str, body: dict[str, Any], **query: str) -> dict[str, Any]:
        params = {"access_token": self.token, **query}
        async with self.http.post(f"{self.server.url}/cgi-bin/{api}", params=params, json=body) as response:
            assert response.status == 200
            answer: dict[str, Any] = await response.json()
            return answer


@pytest.fixture
async def wecom(sim: SimulatorServer, http: aiohttp.ClientSession) -> WeCom:
    client = WeCom(sim, http)
    assert (await client.fetch_token())["errcode"] == 0
    return client


# --- tokens -------------------------------------------------------------------------------------


async def test_token_is_issued_expires_on_the_sim_clock_and_garbage_is_refused(wecom: WeCom) -> None:
    assert (await wecom.fetch_token(secret="wrong"))["errcode"] == 40001
    assert (await wecom.fetch_token(corpid="ww0000"))["errcode"] == 40013
    answer = await wecom.fetch_token()
    assert answer["expires_in"] == 7200
    first = wecom.token
    assert (await wecom.get("user/get", userid="guide_a"))["name"] == "张导购"

    await wecom.fetch_token()
    second = wecom.token
    wecom.token = first  # an older token stays valid until it expires
    assert (await wecom.get("user/get", userid="guide_a"))["errcode"] == 0

    wecom.server.state.advance(7200)
    assert (await wecom.get("user/get", userid="guide_a"))["errcode"] == 42001
    wecom.token = second
    assert (await wecom.get("user/get", userid="guide_a"))["errcode"] == 42001
    wecom.token = "garbage"
    assert (await wecom.get("user/get", userid="guide_a"))["errcode"] == 40014
    wecom.token = ""
    assert (await wecom.get("user/get", userid="guide_a"))["errcode"] == 41001

    await wecom.fetch_token()
    assert (await wecom.get("user/get", userid="guide_a"))["errcode"] == 0
    wecom.server.state.expire_all_tokens()
    assert (await wecom.get("user/get", userid="guide_a"))["errcode"] == 42001


async def test_calls_are_recorded_without_the_token(wecom: WeCom) -> None:
    await wecom.get("user/get", userid="nobody")
    call = wecom.server.state.calls_to("user/get")[-1]
    assert call.query == {"userid": "nobody"}
    assert call.errcode == 60111
    assert all("access_token" not in c.query for c in wecom.server.calls)


async def test_missing_fields_and_bad_json_get_errcodes_not_http_errors(wecom: WeCom) -> None:
    assert (await wecom.post("externalcontact/mark_tag", {}))["errcode"] == 41009
    assert (await wecom.get("user/get"))["errcode"] == 41009
    assert (await wecom.post("message/send", {"touser": "guide_a", "msgtype": "text"}))["errcode"] == 41011
    url = f"{wecom.server.url}/cgi-bin/externalcontact/mark_tag"
    async with wecom.http.post(url, params={"access_token": wecom.token}, data=b"{not json") as response:
        assert response.status == 200
        assert (await response.json())["errcode"] == 47001
    assert (await wecom.post("externalcontact/no_such_api", {}))["errcode"] == 48002


# --- customers ----------------------------------------------------------------------------------


async def test_batch_get_by_user_paginates_250_contacts(wecom: WeCom) -> None:
    state = wecom.server.state
    for i in range(250):
        contact = state.add_external_contact(name=f"客户{i}")
        state.relate("guide_a" if i % 2 else "guide_b", contact.external_userid, state="store_sh01")

    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        answer = await wecom.post(
            "externalcontact/batch/get_by_user",
            {"userid_list": ["guide_a", "guide_b"], "cursor": cursor, "limit": 100},
        )
        assert answer["errcode"] == 0
        pages += 1
        seen += [item["external_contact"]["external_userid"] for item in answer["external_contact_list"]]
        assert all(item["follow_info"]["state"] == "store_sh01" for item in answer["external_contact_list"])
        cursor = answer["next_cursor"]
        if not cursor:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 250

    too_many = {"userid_list": [f"u{i}" for i in range(101)]}
    assert (await wecom.post("externalcontact/batch/get_by_user", too_many))["errcode"] == 40058
    big_limit = {"userid_list": ["guide_a"], "limit": 101}
    assert (await wecom.post("externalcontact/batch/get_by_user", big_limit))["errcode"] == 40058


async def test_generate_contacts_seeds_ten_thousand_quickly() -> None:
    state = SimulatorState()
    started = time.perf_counter()
    members, contacts = state.generate_contacts(20, 10_000, seed=1, tagged_fraction=0.3)
    assert time.perf_counter() - started < 2.0
    assert len(members) == 20 and len(contacts) == 10_000
    assert sum(len(by_contact) for by_contact in state.relations.values()) == 10_000
    again = SimulatorState()
    again.generate_contacts(20, 10_000, seed=1, tagged_fraction=0.3)
    assert list(again.contacts) == list(state.contacts)  # deterministic


async def test_mark_tag_changes_the_relation_tag_set_and_rejects_unknown_tags(wecom: WeCom) -> None:
    state = wecom.server.state
    group = state.add_tag_group("来源", ["门店扫码", "直播"])
    store_tag, live_tag = list(group.tags)
    customer = state.add_external_contact(name="王女士").external_userid
    state.relate("guide_a", customer)

    body = {"userid": "guide_a", "external_userid": customer, "add_tag": [store_tag, live_tag]}
    assert (await wecom.post("externalcontact/mark_tag", body))["errcode"] == 0
    assert state.tag_ids_of("guide_a", customer) == {store_tag, live_tag}

    body = {"userid": "guide_a", "external_userid": customer, "remove_tag": [live_tag]}
    assert (await wecom.post("externalcontact/mark_tag", body))["errcode"] == 0
    contact = await wecom.get("externalcontact/get", external_userid=customer)
    assert [tag["tag_id"] for tag in contact["follow_user"][0]["tags"]] == [store_tag]
    assert contact["follow_user"][0]["tags"][0]["group_name"] == "来源"

    body = {"userid": "guide_a", "external_userid": customer, "add_tag": [live_tag, "etNOPE"]}
    assert (await wecom.post("externalcontact/mark_tag", body))["errcode"] == 40068
    assert state.tag_ids_of("guide_a", customer) == {store_tag}  # all or nothing

    body = {"userid": "guide_b", "external_userid": customer, "add_tag": [live_tag]}
    assert (await wecom.post("externalcontact/mark_tag", body))["errcode"] == 84061
    assert state.count_calls("externalcontact/mark_tag") == 4
    assert state.count_calls("externalcontact/mark_tag", errcode=0) == 2


async def test_corp_tags_add_duplicate_and_delete(wecom: WeCom) -> None:
    state = wecom.server.state
    added = await wecom.post("externalcontact/add_corp_tag", {"group_name": "意向", "tag": [{"name": "高"}]})
    assert added["errcode"] == 0
    high = added["tag_group"]["tag"][0]["id"]
    assert high.startswith("et")
    dup = await wecom.post("externalcontact/add_corp_tag", {"group_name": "意向", "tag": [{"name": "高"}]})
    assert dup["errcode"] == 40071
    customer = state.add_external_contact().external_userid
    state.relate("guide_a", customer, tag_ids=[high])

    listed = await wecom.post("externalcontact/get_corp_tag_list", {})
    assert [g["group_name"] for g in listed["tag_group"]] == ["意向"]
    assert (await wecom.post("externalcontact/del_corp_tag", {"tag_id": [high]}))["errcode"] == 0
    assert state.tag_ids_of("guide_a", customer) == set()
    assert (await wecom.post("externalcontact/get_corp_tag_list", {}))["tag_group"] == []
    filtered = await wecom.post("externalcontact/get_corp_tag_list", {"tag_id": [high]})
    assert filtered["tag_group"][0]["tag"][0]["deleted"] is True


# --- welcome messages ---------------------------------------------------------------------------


def welcome_code_of(inner_xml: str) -> str:
    code = ElementTree.fromstring(inner_xml).findtext("WelcomeCode")
    assert code
    return code


async def test_welcome_code_is_single_use_and_expires_after_20_seconds(wecom: WeCom) -> None:
    state = wecom.server.state
    event = state.customer_scans_qr("guide_a", state="store_sh01")
    welcome = {"welcome_code": welcome_code_of(event), "text": {"content": "欢迎光临"}}
    assert (await wecom.post("externalcontact/send_welcome_msg", welcome))["errcode"] == 0
    assert (await wecom.post("externalcontact/send_welcome_msg", welcome))["errcode"] == 41051

    late = {"welcome_code": welcome_code_of(state.customer_scans_qr("guide_a")), "text": {"content": "欢迎"}}
    state.advance(21)
    assert (await wecom.post("externalcontact/send_welcome_msg", late))["errcode"] == 41051
    unknown = {"welcome_code": "nope", "text": {"content": "欢迎"}}
    assert (await wecom.post("externalcontact/send_welcome_msg", unknown))["errcode"] == 41051

    assert [w.text for w in state.welcome_messages] == ["欢迎光临"]
    assert state.count_calls("externalcontact/send_welcome_msg", errcode=0) == 1


# --- app messages and cards ---------------------------------------------------------------------


def button_card(task_id: str) -> dict[str, Any]:
    return {
        "touser": "guide_a|nobody",
        "msgtype": "template_card",
        "agentid": AGENT_ID,
        "template_card": {
            "card_type": "button_interaction",
            "task_id": task_id,
            "main_title": {"title": "新线索"},
            "button_list": [{"text": "已跟进", "key": "done"}, {"text": "稍后", "key": "later"}],
        },
    }


async def test_template_card_response_code_updates_once_within_72_hours(wecom: WeCom) -> None:
    state = wecom.server.state
    sent = await wecom.post("message/send", button_card("lead_1"))
    assert sent["errcode"] == 0
    assert sent["invaliduser"] == "nobody"
    code = sent["response_code"]
    [delivered] = state.messages_to("guide_a")
    assert delivered.response_code == code and delivered.content["task_id"] == "lead_1"

    click = ElementTree.fromstring(state.guide_clicks_card("guide_a", "lead_1", "done"))
    assert click.findtext("ResponseCode") == code and click.findtext("EventKey") == "done"

    update = {"userids": ["guide_a"], "agentid": AGENT_ID, "response_code": code, "button": {"replace_name": "已跟进"}}
    assert (await wecom.post("message/update_template_card", update))["errcode"] == 0
    assert (await wecom.post("message/update_template_card", update))["errcode"] == 40058
    assert state.messages_to("guide_a")[0].updates == [{"button": {"replace_name": "已跟进"}}]

    late_code = (await wecom.post("message/send", button_card("lead_2")))["response_code"]
    state.advance(72 * 3600 + 1)
    await wecom.fetch_token()  # the token expired too, long before the card
    late = {**update, "response_code": late_code}
    assert (await wecom.post("message/update_template_card", late))["errcode"] == 40058

    assert (await wecom.post("message/send", button_card("lead_2")))["errcode"] == 40058  # task_id reused
    wrong_agent = {**button_card("lead_3"), "agentid": 1}
    assert (await wecom.post("message/send", wrong_agent))["errcode"] == 40056
    nobody = {"touser": "nobody", "msgtype": "text", "agentid": AGENT_ID, "text": {"content": "hi"}}
    assert (await wecom.post("message/send", nobody))["errcode"] == 81013


# --- faults -------------------------------------------------------------------------------------


async def test_injected_errcode_once_then_ok(wecom: WeCom) -> None:
    wecom.server.state.faults.inject("user/get", errcode=-1, count=1)
    assert (await wecom.get("user/get", userid="guide_a"))["errcode"] == -1
    assert (await wecom.get("user/get", userid="guide_a"))["errcode"] == 0


async def test_injected_http_500_and_latency(wecom: WeCom) -> None:
    state = wecom.server.state
    state.faults.inject("*", http_status=500, count=1)
    url = f"{wecom.server.url}/cgi-bin/user/get"
    async with wecom.http.get(url, params={"access_token": wecom.token, "userid": "guide_a"}) as response:
        assert response.status == 500
    assert state.calls[-1].http_status == 500 and state.calls[-1].errcode is None

    state.faults.inject("user/get", latency=0.3, count=1)
    started = time.perf_counter()
    assert (await wecom.get("user/get", userid="guide_a"))["errcode"] == 0
    assert time.perf_counter() - started >= 0.3

    state.faults.inject("user/get", errcode=45033, rate=0.5)
    answers = [(await wecom.get("user/get", userid="guide_a"))["errcode"] for _ in range(20)]
    assert {0, 45033} == set(answers)
    state.faults.clear()
    assert (await wecom.get("user/get", userid="guide_a"))["errcode"] == 0


async def test_rate_limit_answers_45009(wecom: WeCom) -> None:
    state = wecom.server.state
    state.rate_limits.set_limit("user/get", 3)
    answers = [(await wecom.get("user/get", userid="guide_a"))["errcode"] for _ in range(4)]
    assert answers == [0, 0, 0, 45009]
    state.advance(60)
    assert (await wecom.get("user/get", userid="guide_a"))["errcode"] == 0


# --- group robots -------------------------------------------------------------------------------


async def test_webhook_sizes_and_twenty_messages_a_minute(wecom: WeCom) -> None:
    state = wecom.server.state

    async def robot(body: dict[str, Any], key: str = "k1") -> int:
        async with wecom.http.post(f"{wecom.server.url}/cgi-bin/webhook/send", params={"key": key}, json=body) as r:
            errcode: int = (await r.json())["errcode"]
            return errcode

    assert await robot({"msgtype": "markdown", "markdown": {"content": "a" * 4097}}) == 40058
    assert await robot({"msgtype": "text", "text": {"content": "字" * 683}}) == 40058  # 2049 bytes
    assert await robot({"msgtype": "markdown", "markdown": {"content": "a" * 4096}}) == 0
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    image = {"base64": base64.b64encode(png).decode(), "md5": hashlib.md5(png).hexdigest()}
    assert await robot({"msgtype": "image", "image": image}) == 0
    assert await robot({"msgtype": "image", "image": {**image, "md5": "0" * 32}}) == 40058

    answers = [await robot({"msgtype": "text", "text": {"content": f"第{i}条"}}) for i in range(19)]
    assert answers == [0] * 18 + [45009]  # 2 earlier successes count towards this minute
    assert await robot({"msgtype": "text", "text": {"content": "other robot"}}, key="k2") == 0
    state.advance(61)
    assert await robot({"msgtype": "text", "text": {"content": "next minute"}}) == 0
    assert len(state.robot_messages["k1"]) == 21


# --- callbacks ----------------------------------------------------------------------------------


@dataclass
class Receiver:
    """A tiny stand-in for our ingest: decrypts with CallbackCrypto, optionally too slow."""

    crypto: CallbackCrypto
    slow_answers: int = 0
    delay: float = 0.0
    url: str = ""
    raw: list[tuple[str, bytes]] = field(default_factory=list)
    inner: list[str] = field(default_factory=list)

    async def handle_post(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.raw.append((request.query_string, body))
        encrypt = ElementTree.fromstring(body).findtext("Encrypt") or ""
        q = request.query
        self.inner.append(self.crypto.verify_and_decrypt(q["msg_signature"], q["timestamp"], q["nonce"], encrypt))
        if len(self.raw) <= self.slow_answers:
            await asyncio.sleep(self.delay)
        return web.Response(text="success")

    async def handle_get(self, request: web.Request) -> web.Response:
        q = request.query
        return web.Response(
            text=self.crypto.verify_and_decrypt(q["msg_signature"], q["timestamp"], q["nonce"], q["echostr"])
        )


@asynccontextmanager
async def running_receiver(slow_answers: int = 0, delay: float = 0.0) -> AsyncIterator[Receiver]:
    receiver = Receiver(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), slow_answers, delay)
    app = web.Application()
    app.router.add_post("/wecom/callback", receiver.handle_post)
    app.router.add_get("/wecom/callback", receiver.handle_get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/wecom/callback"
    try:
        yield receiver
    finally:
        await runner.cleanup()


def sender_for(receiver: Receiver, http: aiohttp.ClientSession, timeout: float = 5.0) -> CallbackSender:
    return CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), receiver.url, http, timeout=timeout)


async def test_callback_round_trip_is_decryptable_and_shaped_like_wecom(http: aiohttp.ClientSession) -> None:
    state = make_state()
    async with running_receiver() as receiver:
        sender = sender_for(receiver, http)
        report = await sender.send(state.customer_scans_qr("guide_a", "wmCUSTOMER1", state="store_sh01"))
        assert report.delivered and report.attempts == 1 and report.statuses == [200]
        await sender.send(eventxml.template_card_event(CORP_ID, 1700000000, "guide_a", event_key="done",
                                                       task_id="lead_1", response_code="RC1",
                                                       card_type="button_interaction", agent_id=AGENT_ID))
        verification = await sender.verify_url("1288432023552776189")
    assert verification.ok

    event = ElementTree.fromstring(receiver.inner[0])
    assert event.findtext("ToUserName") == CORP_ID
    assert event.findtext("FromUserName") == "sys"
    assert event.findtext("MsgType") == "event"
    assert event.findtext("Event") == "change_external_contact"
    assert event.findtext("ChangeType") == "add_external_contact"
    assert event.findtext("UserID") == "guide_a"
    assert event.findtext("ExternalUserID") == "wmCUSTOMER1"
    assert event.findtext("State") == "store_sh01"
    assert welcome_code_of(receiver.inner[0]) in state.welcome_codes
    assert event.find("AgentID") is None
    assert "<![CDATA[change_external_contact]]>" in receiver.inner[0]

    click = ElementTree.fromstring(receiver.inner[1])
    assert click.findtext("FromUserName") == "guide_a"
    assert click.findtext("Event") == "template_card_event"
    assert click.findtext("ResponseCode") == "RC1"
    assert click.findtext("AgentID") == str(AGENT_ID)


async def test_slow_receiver_gets_the_identical_request_again_at_most_four_times(
    http: aiohttp.ClientSession,
) -> None:
    async with running_receiver(slow_answers=10, delay=0.45) as receiver:
        report = await sender_for(receiver, http, timeout=0.3).send(make_state().guide_opens_app("guide_a"))
    assert report.attempts == 4 and report.statuses == [None] * 4 and not report.delivered
    assert len(receiver.raw) == 4
    assert len(set(receiver.raw)) == 1  # same query (signature, timestamp, nonce) and same body

    async with running_receiver(slow_answers=1, delay=0.45) as receiver:
        report = await sender_for(receiver, http, timeout=0.3).send(make_state().guide_opens_app("guide_a"))
    assert report.delivered and report.statuses == [None, 200]
    assert receiver.raw[0] == receiver.raw[1]


# --- transfers ----------------------------------------------------------------------------------


async def test_transfer_with_a_refusing_customer_produces_transfer_fail(wecom: WeCom) -> None:
    state = wecom.server.state
    stays, refuses = "wmSTAYS", "wmREFUSES"
    for external_userid in (stays, refuses):
        state.add_external_contact(external_userid)
        state.relate("guide_a", external_userid)
    body = {"handover_userid": "guide_a", "takeover_userid": "guide_b", "external_userid": [stays, refuses, "wmX"]}
    answer = await wecom.post("externalcontact/transfer_customer", body)
    assert [c["errcode"] for c in answer["customer"]] == [0, 0, 40096]
    assert (await wecom.post("externalcontact/resigned/transfer_customer", body))["errcode"] == 40097

    state.refuse_transfer(refuses)
    parties = {"handover_userid": "guide_a", "takeover_userid": "guide_b"}
    result = await wecom.post("externalcontact/transfer_result", parties)
    assert {c["external_userid"]: c["status"] for c in result["customer"]} == {stays: 2, refuses: 3}
    [fail] = state.drain_outbox()
    assert ElementTree.fromstring(fail).findtext("FailReason") == "customer_refused"

    state.advance(24 * 3600)
    events = state.settle_transfers()
    assert [ElementTree.fromstring(e).findtext("ChangeType") for e in events] == [
        "del_external_contact",
        "add_external_contact",
    ]
    assert state.relation("guide_b", stays) is not None and state.relation("guide_a", stays) is None


# --- group chats --------------------------------------------------------------------------------


async def test_group_chat_list_and_get(wecom: WeCom) -> None:
    state = wecom.server.state
    chat = state.add_group_chat("guide_a", "VIP群", external_userids=[state.add_external_contact().external_userid])
    listed = await wecom.post("externalcontact/groupchat/list", {"limit": 10})
    assert listed["group_chat_list"] == [{"chat_id": chat.chat_id, "status": 0}]
    got = await wecom.post("externalcontact/groupchat/get", {"chat_id": chat.chat_id, "need_name": 1})
    assert got["group_chat"]["owner"] == "guide_a" and len(got["group_chat"]["member_list"]) == 2
    assert (await wecom.post("externalcontact/groupchat/get", {"chat_id": "wrNOPE"}))["errcode"] == 40050


# --- control endpoints --------------------------------------------------------------------------


async def test_control_endpoints_drive_an_out_of_process_simulator(http: aiohttp.ClientSession) -> None:
    async with running_receiver() as receiver, running_simulator(make_state(), callback_url=receiver.url) as sim:
        base = f"{sim.url}/_sim"
        seed = {
            "tag_groups": [{"group_name": "来源", "tags": ["门店扫码"]}],
            "generate": {"n_members": 2, "n_contacts": 5},
        }
        async with http.post(f"{base}/seed", json=seed) as response:
            assert response.status == 200
            tag_id = (await response.json())["tag_groups"][0]["tags"]["门店扫码"]

        scan = {"userid": "guide_a", "external_userid": "wmNEW", "state": "store_sh01"}
        async with http.post(f"{base}/events/customer_scans_qr", json=scan) as response:
            delivered = await response.json()
        assert delivered["deliveries"][0]["delivered"] is True
        assert "wmNEW" in receiver.inner[0]

        async with http.post(f"{base}/faults", json={"api": "gettoken", "errcode": -1, "count": 1}) as response:
            assert response.status == 200
        client = WeCom(sim, http)
        assert (await client.fetch_token())["errcode"] == -1
        assert (await client.fetch_token())["errcode"] == 0
        await client.post(
            "externalcontact/mark_tag", {"userid": "guide_a", "external_userid": "wmNEW", "add_tag": [tag_id]}
        )

        async with http.post(f"{base}/advance", json={"seconds": 7200}) as response:
            assert response.status == 200
        assert (await client.post("externalcontact/get_corp_tag_list", {}))["errcode"] == 42001

        async with http.get(f"{base}/state", params={"contacts": "1"}) as response:
            snapshot = await response.json()
        assert snapshot["counts"]["contacts"] == 6 and snapshot["counts"]["members"] == 4
        new = next(c for c in snapshot["contacts"] if c["external_userid"] == "wmNEW")
        assert new["follow_user"][0]["tag_ids"] == [tag_id]

        async with http.get(f"{base}/calls", params={"api": "externalcontact/mark_tag"}) as response:
            calls = await response.json()
        assert calls["count"] == 1 and calls["calls"][0]["errcode"] == 0

        async with http.delete(f"{base}/faults") as response:
            assert response.status == 200
        async with http.post(f"{base}/events/no_such_kind", json={}) as response:
            assert response.status == 400
