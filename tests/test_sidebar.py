"""The sidebar over HTTP, as a guide's phone and WeCom see it: identity, signatures, access, one-tap writes.

(The same flows in a real browser are in test_sidebar_browser.py.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.configfiles import ConfigError
from customers.models import GroupChat, GroupChatMember, Guide
from leads.models import Lead, LeadStatus
from predict.models import CustomerPrediction
from sidebar import config as sidebar_config
from sidebar.config import LIBRARY
from sidebar.jssdk import Tickets, jsapi_signature
from sidebar.models import ScriptSend, SidebarAudit
from sidebar.oauth import safe_next
from sidebar.report import script_report
from sidebar.session import SessionSigner
from simulator.browser import IssuedTicket
from simulator.browser import jsapi_signature as simulator_signature
from simulator.jsbridge import play_config, play_invoke
from tests.support import chat
from tests.support.chat import stack_of
from tests.support.facts import craft_prediction
from tests.support.sidebar import SidebarWorld, guide_client, open_world

CONFIG = Path(__file__).resolve().parent.parent / "config"
VECTORS = json.loads((Path(__file__).parent / "data" / "jssdk_signature_vectors.json").read_text("utf-8"))


@pytest.fixture
async def world(make_settings: Callable[..., Any], sim: Any) -> AsyncIterator[SidebarWorld]:
    async with open_world(make_settings, sim) as opened:
        yield opened


# --- signatures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=[v["source"] for v in VECTORS])
def test_signature_vectors_are_reproduced(vector: dict[str, Any]) -> None:
    args = (vector["jsapi_ticket"], vector["noncestr"], vector["timestamp"], vector["url"])
    assert jsapi_signature(*args) == vector["signature"]
    assert simulator_signature(*args) == vector["signature"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["source"] for v in VECTORS])
def test_the_bridge_accepts_the_vectors_and_refuses_the_other_ticket_kind(sim: Any, vector: dict[str, Any]) -> None:
    state = sim.state
    state.browser.tickets[vector["jsapi_ticket"]] = IssuedTicket(vector["jsapi_ticket"], "corp", state.now() + 60)
    signed = {"url": vector["url"], "corpid": state.corp_id, "agentid": state.agent_id,
              "timestamp": vector["timestamp"], "nonceStr": vector["noncestr"], "signature": vector["signature"]}
    state.browser.trusted_domains.add("mp.weixin.qq.com")
    assert play_config(state, {"kind": "config", **signed})["errMsg"] == "config:ok"
    # The same signature for agentConfig needs the app ticket: refused.
    assert play_config(state, {"kind": "agentConfig", **signed})["errMsg"] == "agentConfig:invalid signature"
    state.advance(61)  # the ticket expired
    assert play_config(state, {"kind": "config", **signed})["errMsg"] == "config:invalid signature"


def test_bridge_answers_only_after_agent_config(sim: Any) -> None:
    state = sim.state
    state.browser.device.external_userid = "wmX"
    assert play_invoke(state, {"api": "getCurExternalContact"})["err_msg"] == "getCurExternalContact:fail no permission"


# --- identity ------------------------------------------------------------------------------------


async def test_login_sets_a_short_lived_httponly_cookie_bound_to_the_guide(world: SidebarWorld) -> None:
    async with guide_client(world, "guide_sh01_a") as phone:
        assert phone.csrf
        cookie = next(c for c in phone.http.cookie_jar if c.key == "scrm_sidebar")
        assert cookie["httponly"] and cookie["path"] == "/sidebar" and int(cookie["max-age"]) == 7200
        calls = world.sim.state.calls_to("auth/getuserinfo")
        assert len(calls) == 1 and calls[0].errcode == 0


async def test_an_oauth_code_is_good_once_and_for_five_minutes(world: SidebarWorld) -> None:
    world.open_chat("guide_sh01_a")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{world.app_url}/sidebar/login", allow_redirects=False) as resp:
            authorize = resp.headers["Location"].split("#")[0]
        async with http.get(authorize, allow_redirects=False) as resp:
            callback = resp.headers["Location"]
        async with http.get(callback, allow_redirects=False) as resp:
            assert resp.status == 302
        # The same code again (a reload of the callback URL): used, and the state is spent too.
        async with http.get(callback, allow_redirects=False) as resp:
            page = await resp.text()
            assert resp.status == 400 and "登录已失效" in page and "Traceback" not in page

        async with http.get(f"{world.app_url}/sidebar/login", allow_redirects=False) as resp:
            authorize = resp.headers["Location"].split("#")[0]
        async with http.get(authorize, allow_redirects=False) as resp:
            callback = resp.headers["Location"]
        world.sim.state.advance(301)
        async with http.get(callback, allow_redirects=False) as resp:
            page = await resp.text()
            assert resp.status == 400 and "40029" in page
    assert world.sim.state.count_calls("auth/getuserinfo", errcode=40029) == 1


def test_redirect_targets_are_allow_listed() -> None:
    assert safe_next("/sidebar/?x=1") == "/sidebar/?x=1"
    evil_targets = (
        "https://evil.example/sidebar/", "//evil.example/sidebar/", "/sidebar//evil", "/admin", "/sidebar/\\x",
    )
    for evil in evil_targets:
        assert safe_next(evil) == "/sidebar/"


async def test_forged_expired_and_missing_sessions_get_401_in_chinese(world: SidebarWorld) -> None:
    signer = SessionSigner([b"not-our-key-of-at-least-32-bytes"], 60)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        forged = signer.issue(world.deps.settings.wecom_corp_id, "guide_sh01_a", world.deps.clock.timestamp())
        for cookie in ("", forged):
            http.cookie_jar.update_cookies({"scrm_sidebar": cookie})
            async with http.get(f"{world.app_url}/sidebar/api/card", params={"external_userid": "wmX"}) as resp:
                assert resp.status == 401
                assert "登录已过期" in (await resp.json())["error"]
        # The page itself sends the guide through OAuth again.
        async with http.get(f"{world.app_url}/sidebar/", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"].startswith("/sidebar/login")


async def test_an_expired_session_is_refused(make_settings: Callable[..., Any], sim: Any) -> None:
    async with open_world(make_settings, sim, scrm_sidebar_session_s=60) as world:
        customer = await world.customer_with_history("wmEXPIRE0001", "过期")
        world.open_chat("guide_sh01_a", customer.external_userid)
        async with guide_client(world, "guide_sh01_a") as phone:
            assert (await phone.get("/sidebar/api/card", external_userid=customer.external_userid))[0] == 200
            cookie = next(c for c in phone.http.cookie_jar if c.key == "scrm_sidebar").value
            signer = world.app.app[_sidebar_key()].signer
            with pytest.raises(Exception, match="expired"):
                signer.read(cookie, world.deps.settings.wecom_corp_id, world.deps.clock.timestamp() + 61)


def _sidebar_key() -> Any:
    from sidebar.views import SIDEBAR

    return SIDEBAR


# --- tickets -------------------------------------------------------------------------------------


async def test_tickets_are_cached_per_kind_and_fetched_once_across_processes(world: SidebarWorld) -> None:
    other_process = Tickets(world.deps)  # its own local cache; the same Redis
    async with guide_client(world, "guide_sh01_a") as phone:
        answers = await asyncio.gather(*(
            phone.get("/sidebar/api/jssdk", url=world.page_url) for _ in range(5)
        ), other_process.get("agent_config"), other_process.get("corp"))
    assert all(status == 200 for status, _ in answers[:5])
    assert world.sim.state.count_calls("get_jsapi_ticket") == 1
    assert world.sim.state.count_calls("ticket/get") == 1
    body = json.dumps([answer for _, answer in answers[:5]])
    # No ticket (nor token) reaches the page: only signatures and a fingerprint.
    for ticket in world.sim.state.browser.tickets:
        assert ticket not in body
    for token in world.sim.state.tokens:
        assert token not in body


async def test_only_our_own_pages_are_signed(world: SidebarWorld) -> None:
    async with guide_client(world, "guide_sh01_a") as phone:
        status, _ = await phone.get("/sidebar/api/jssdk", url="https://evil.example/sidebar/")
        assert status == 400


async def test_ticket_fetches_stay_within_the_hourly_budget(make_settings: Callable[..., Any], sim: Any) -> None:
    async with (
        open_world(make_settings, sim, scrm_sidebar_ticket_fetch_per_hour=1, scrm_sidebar_ticket_min_age_s=0) as world,
        guide_client(world, "guide_sh01_a") as phone,
    ):
        status, signed = await phone.get("/sidebar/api/jssdk", url=world.page_url)
        assert status == 200
        fp = signed["agentConfig"]["ticket_fp"]
        # Past the budget the page is still signed, with the ticket we have (issue 29: never a 503 for all).
        status, answer = await phone.get("/sidebar/api/jssdk", url=world.page_url, renew="agent_config", fp=fp)
        assert status == 200 and answer["agentConfig"]["ticket_fp"] == fp
    assert sim.state.count_calls("ticket/get") == 1


def test_the_simulator_enforces_the_ticket_quota(sim: Any) -> None:
    from simulator.apis import jsapi
    from simulator.apis.base import ApiRequest
    from simulator.errors import ApiError

    request = ApiRequest("ticket/get", "GET", {"type": "agent_config"}, {}, sim.state)
    for _ in range(100):
        jsapi.app_ticket(request)
    with pytest.raises(ApiError) as refused:
        jsapi.app_ticket(request)
    assert refused.value.errcode == 45009
    with pytest.raises(ApiError) as bad_type:
        jsapi.app_ticket(ApiRequest("ticket/get", "GET", {"type": "nope"}, {}, sim.state))
    assert bad_type.value.errcode == 91040


# --- access ------------------------------------------------------------------------------------


async def test_every_read_and_write_checks_the_guide_follows_the_customer(world: SidebarWorld) -> None:
    theirs = await world.customer_with_history("wmACCESS0001", "他人客户", guide="guide_hz01_a")
    task_id = (await theirs.sop_tasks.all())[0].id
    async with guide_client(world, "guide_sh01_a") as phone:
        assert (await phone.get("/sidebar/api/card", external_userid=theirs.external_userid))[0] == 403
        assert (await phone.get("/sidebar/api/card", external_userid="wmDOESNOTEXIST"))[0] == 403
        for action, extra in (("note", {"text": "x"}), ("task_done", {"task_id": task_id}), ("tag_add", {"tag_id": 1})):
            status, answer = await phone.post(
                "/sidebar/api/action", {"external_userid": theirs.external_userid, "action": action, **extra}
            )
            assert status == 403 and "不是你的客户" in answer["error"]
        status, _ = await phone.post("/sidebar/api/send", {"external_userid": theirs.external_userid,
                                                            "item": "hello_first"})
        assert status == 403
    assert not await ScriptSend.exists()
    assert await SidebarAudit.filter(userid="guide_sh01_a", result="refused").count() == 4


async def test_store_managers_see_their_store_and_operators_everyone(world: SidebarWorld) -> None:
    sh = await world.customer_with_history("wmACCESS0002", "上海客户", guide="guide_sh01_b")
    hz = await world.customer_with_history("wmACCESS0003", "杭州客户", guide="guide_hz01_a")
    async with guide_client(world, "manager_sh01") as manager:
        assert (await manager.get("/sidebar/api/card", external_userid=sh.external_userid))[0] == 200
        assert (await manager.get("/sidebar/api/card", external_userid=hz.external_userid))[0] == 403
    async with guide_client(world, "operator01") as operator:
        status, card = await operator.get("/sidebar/api/card", external_userid=hz.external_userid)
        assert status == 200 and card["customer"]["name"] == "杭州客户"


async def test_writes_need_the_csrf_token(world: SidebarWorld) -> None:
    mine = await world.customer_with_history("wmCSRF0001", "王女士")
    async with guide_client(world, "guide_sh01_a") as phone:
        for token in ("", "forged"):
            status, _ = await phone.post("/sidebar/api/action", {"external_userid": mine.external_userid,
                                                                  "action": "note", "text": "x"}, csrf=token)
            assert status == 403
        assert (await phone.post("/sidebar/api/action", {"external_userid": mine.external_userid, "action": "note",
                                                          "text": "到店试穿"}))[0] == 200
    assert await SidebarAudit.filter(action="note", userid="guide_sh01_a").count() == 1


async def test_a_request_the_sidebar_cannot_do_says_why_in_chinese(world: SidebarWorld) -> None:
    mine = await world.customer_with_history("wmBAD0001", "赵女士")
    async with guide_client(world, "guide_sh01_a") as phone:
        note = {"external_userid": mine.external_userid, "action": "note"}
        for text, expected in (("  ", "请先填写跟进记录。"), ("很" * 501, "跟进记录最多500字。")):
            status, answer = await phone.post("/sidebar/api/action", note | {"text": text})
            assert (status, answer) == (400, {"error": expected, "code": "bad_request"})
        gone = {"item": "gone", "external_userid": mine.external_userid}  # removed from the library meanwhile
        status, answer = await phone.post("/sidebar/api/send", gone)
        assert status == 400 and "话术库中没有这一项" in answer["error"]
        status, answer = await phone.post("/sidebar/api/action", {"external_userid": mine.external_userid})
        assert status == 400 and answer["error"] == "请求无效，请刷新页面后重试。"
    assert await SidebarAudit.filter(action="note", userid="guide_sh01_a").count() == 0


# --- one-tap writes ------------------------------------------------------------------------------


async def test_a_guide_tag_goes_to_wecom_with_mark_tag(world: SidebarWorld) -> None:
    mine = await world.customer_with_history("wmTAG0001", "赵女士")
    state = world.sim.state
    async with guide_client(world, "guide_sh01_a") as phone:
        _, card = await phone.get("/sidebar/api/card", external_userid=mine.external_userid)
        tags = next(s for s in card["sections"] if s["id"] == "tags")
        high = next(t for t in tags["addable"] if t["name"] == "高意向")
        body = {"external_userid": mine.external_userid, "action": "tag_add", "tag_id": high["tag_id"]}
        assert (await phone.post("/sidebar/api/action", body))[1] == {"result": "ok"}
        assert state.tag_id("高意向") in state.tag_ids_of("guide_sh01_a", mine.external_userid)

        _, card = await phone.get("/sidebar/api/card", external_userid=mine.external_userid)
        shown = next(t for s in card["sections"] if s["id"] == "tags" for t in s["tags"] if t["name"] == "高意向")
        assert shown["removable"] and shown["why"] == "导购标记"
        # A rule's tag is not the guide's to remove.
        rule_tag = next(t for s in card["sections"] if s["id"] == "tags" for t in s["tags"] if "规则" in t["why"])
        assert not rule_tag["removable"]
        body = {"external_userid": mine.external_userid, "action": "tag_remove", "tag_id": rule_tag["tag_id"]}
        assert (await phone.post("/sidebar/api/action", body))[0] == 403

        body = {"external_userid": mine.external_userid, "action": "tag_remove", "tag_id": high["tag_id"]}
        assert (await phone.post("/sidebar/api/action", body))[1] == {"result": "ok"}
        assert state.tag_id("高意向") not in state.tag_ids_of("guide_sh01_a", mine.external_userid)


async def test_the_card_shows_the_customers_prediction_where_one_exists(world: SidebarWorld) -> None:
    predicted = await world.customer_with_history("wmPRED001", "孙女士")
    not_yet = await world.customer_with_history("wmPRED002", "钱先生")
    why = {"recency": 12, "n": 3, "value": 1290, "gap_mean": 20}
    await craft_prediction(predicted, {"p_buy_90": 0.62, "p_buy_30": 0.31, "rank_pct": 0.07, "spend_90": 1180,
                                       "why": why}, world.deps.clock.now())
    async with guide_client(world, "guide_sh01_a") as phone:
        _, card = await phone.get("/sidebar/api/card", external_userid=predicted.external_userid)
        section = next(s for s in card["sections"] if s["id"] == "prediction")
        shown = "\n".join(item["text"] for item in section["items"])
        assert section["title"] == "购买预测"
        assert "预计90天内购买概率 62%（前8%），30天内 31%" in shown and "预计90天消费 ¥1,180" in shown
        assert "最近一次购买 12 天前，共 3 次" in shown
        _, card = await phone.get("/sidebar/api/card", external_userid=not_yet.external_userid)
        assert "prediction" not in {s["id"] for s in card["sections"]}


async def test_the_card_opens_on_the_one_thing_to_do_now(world: SidebarWorld) -> None:
    """An overdue task beats an open lead; done, the lead is next; handled, a likely reorder is; with nothing
    to do the card has no such line. Each comes with its text and what the one-tap send sends."""
    from datetime import timedelta

    from sop.models import SopTask, TaskStatus

    customer = await world.customer_with_history("wmNEXT001", "褚女士")
    now = world.deps.clock.now()
    next_week = (now + timedelta(days=5)).date()
    await craft_prediction(customer, {"p_buy_90": 0.7, "p_buy_30": 0.45, "spend_90": 800}, now)
    await CustomerPrediction.filter(customer_id=customer.id).update(next_purchase_on=next_week)

    async def first_line() -> dict[str, Any] | None:
        _, card = await phone.get("/sidebar/api/card", external_userid=customer.external_userid)
        assert card["sections"][0]["id"] == "next" or all(s["id"] != "next" for s in card["sections"])
        return next((s["action"] for s in card["sections"] if s["id"] == "next"), None)

    async with guide_client(world, "guide_sh01_a") as phone:
        action = await first_line()
        assert action is not None and action["kind"] == "sop_task"
        assert action["title"] == "逾期待办：第7天跟进" and action["text"] == "褚女士，上次的鞋子穿着还合脚吗？"
        assert action["send_item"].startswith("task:")

        await SopTask.filter(customer_id=customer.id).update(status=TaskStatus.DONE)
        action = await first_line()
        assert action is not None and action["kind"] == "lead"
        assert action["title"] == "热线索：加购未付款「轻羽拖鞋」¥199"
        assert action["send_item"] == "lead_follow_up" and action["text"].startswith("褚女士您好")
        prepared = await phone.post("/sidebar/api/send", {"item": action["send_item"],
                                                          "external_userid": customer.external_userid})
        assert prepared[0] == 200 and prepared[1]["message"]["text"]["content"] == action["text"]

        await Lead.filter(customer_id=customer.id).update(status=LeadStatus.CONTACTED)
        action = await first_line()
        assert action is not None and action["kind"] == "reorder"
        assert action["title"] == f"复购时机：预计{next_week:%m-%d}前后再次购买（30天内45%）"
        assert action["send_item"] == "reorder_nudge"

        await CustomerPrediction.filter(customer_id=customer.id).update(p_buy_30=0.1)
        assert await first_line() is None


def test_a_next_action_kind_is_one_registered_function() -> None:
    from bot.feature import load_features
    from sidebar.nextaction import ACTION_KINDS, action_kind

    load_features()  # predict's reorder kind registers with the features, as at any start

    async def another_lead(ctx: object) -> list[object]:
        return []

    assert {"sop_task", "lead", "reorder"} <= set(ACTION_KINDS)
    with pytest.raises(ValueError, match="registered already"):
        action_kind("lead")(another_lead)  # type: ignore[arg-type]


async def test_the_card_says_what_moved_the_score_in_plain_words(world: SidebarWorld) -> None:
    customer = await world.customer_with_history("wmWHY001", "卫女士")
    why = {"recency": 12, "n": 3, "reasons": [
        {"feature": "add_to_cart_30d", "value": 3, "change": 0.18},
        {"feature": "recency_over_gap", "value": 1.6, "change": -0.09},
        {"feature": "bg_expected", "value": 1.4, "change": 0.04}]}
    await craft_prediction(customer, {"p_buy_90": 0.62, "why": why, "method": "rfm"}, world.deps.clock.now())
    async with guide_client(world, "guide_sh01_a") as phone:
        _, card = await phone.get("/sidebar/api/card", external_userid=customer.external_userid)
    shown = "\n".join(item["text"] for s in card["sections"] if s["id"] == "prediction" for item in s["items"])
    assert "依据：近30天加购3次（+18%），已超过平时复购间隔（−9%），按以往节奏预计再买1次（+4%）" in shown
    for jargon in ("RFM", "模型", "回测", "BG/NBD", "rfm"):
        assert jargon not in shown


async def test_a_lead_marked_contacted_or_not_suitable(world: SidebarWorld) -> None:
    mine = await world.customer_with_history("wmLEAD0001", "冯先生")
    lead = await Lead.get(customer_id=mine.id)
    async with guide_client(world, "guide_sh01_a") as phone:
        body = {"external_userid": mine.external_userid, "action": "lead", "lead_id": lead.id, "do": "contacted"}
        assert (await phone.post("/sidebar/api/action", body))[1] == {"result": "ok"}
        assert (await phone.post("/sidebar/api/action", body))[1] == {"result": "already"}
    await lead.refresh_from_db()
    assert lead.status is LeadStatus.CONTACTED and lead.contacted_at is not None


async def test_group_chat_shows_owner_customers_and_their_tasks(world: SidebarWorld) -> None:
    a = await world.customer_with_history("wmGROUP0001", "群客户甲")
    b = await world.customer_with_history("wmGROUP0002", "群客户乙")
    chat = await GroupChat.create(chat_id="wrGROUP01", name="南京西路老客群", owner_userid="guide_sh01_a",
                                  member_count=3)
    for userid, kind in (("guide_sh01_a", 1), (a.external_userid, 2), (b.external_userid, 2)):
        await GroupChatMember.create(chat=chat, userid=userid, type=kind)
    async with guide_client(world, "guide_sh01_a") as phone:
        status, group = await phone.get("/sidebar/api/group", chat_id="wrGROUP01")
        assert status == 200
        assert group["chat"]["owner"] == (await Guide.get(userid="guide_sh01_a")).name
        assert {c["name"] for c in group["customers"]} == {"群客户甲", "群客户乙"}
        assert {t["customer"] for t in group["tasks"]} == {"群客户甲", "群客户乙"}
    async with guide_client(world, "guide_hz01_a") as stranger:
        assert (await stranger.get("/sidebar/api/group", chat_id="wrGROUP01"))[0] == 403


async def test_an_image_material_is_uploaded_once_and_its_media_id_kept(world: SidebarWorld) -> None:
    mine = await world.customer_with_history("wmMEDIA0001", "陈女士")
    async with guide_client(world, "guide_sh01_a") as phone:
        answers = [
            await phone.post("/sidebar/api/send", {"external_userid": mine.external_userid, "item": "size_guide"})
            for _ in range(2)
        ]
    messages = [answer["message"] for _, answer in answers]
    assert messages[0] == messages[1] and messages[0]["msgtype"] == "image"
    media_id = messages[0]["image"]["mediaid"]
    assert world.sim.state.count_calls("media/upload") == 1
    assert world.sim.state.browser.media[media_id].type == "image"
    keys = [key async for key in world.deps.redis.scan_iter(match="*sidebar:media:*")]
    ttl = await world.deps.redis.ttl(keys[0])
    assert 0 < ttl <= int(2.5 * 86400)  # renewed half a day before WeCom's 3 days
    # WeCom's 3 days pass: the bridge refuses the old media_id.
    world.sim.state.advance(3 * 86400 + 1)
    bridge = play_config_ok(world)
    answer = play_invoke(world.sim.state, {"bridge_id": bridge, "api": "sendChatMessage", "params": messages[0]})
    assert answer["err_msg"] == "sendChatMessage:fail invalid mediaid"


def play_config_ok(world: SidebarWorld) -> str:
    from simulator.browser import BridgeSession

    session = BridgeSession("brTEST", world.page_url, config_ok=True, agent_config_ok=True)
    world.sim.state.browser.bridges[session.bridge_id] = session
    world.sim.state.browser.device.userid = "guide_sh01_a"
    return session.bridge_id


async def test_library_search_renders_for_this_customer(world: SidebarWorld) -> None:
    mine = await world.customer_with_history("wmLIB0001", "褚女士", remark="褚姐")
    async with guide_client(world, "guide_sh01_a") as phone:
        status, found = await phone.get("/sidebar/api/library", q="洗护", external_userid=mine.external_userid)
    assert status == 200
    assert [item["id"] for item in found["items"]] == ["care_tips"]
    assert found["items"][0]["preview"].startswith("褚姐您好")


async def test_sends_are_counted_with_orders_within_7_days(world: SidebarWorld) -> None:
    from datetime import timedelta
    from decimal import Decimal

    from customers.orders import OrderIn, record_orders

    mine = await world.customer_with_history("wmREPORT0001", "蒋女士")
    async with guide_client(world, "guide_sh01_a") as phone:
        _, prepared = await phone.post("/sidebar/api/send", {"external_userid": mine.external_userid,
                                                              "item": "hello_back"})
        assert (await phone.post("/sidebar/api/sent", {"send_id": prepared["send_id"], "status": "sent"}))[0] == 200
    now = world.deps.clock.now()
    await record_orders([OrderIn("oREPORT-1", Decimal("520"), now + timedelta(days=2), mine.external_userid)])
    rows = await script_report(now - timedelta(days=1), now + timedelta(days=8))
    row = next(r for r in rows if r.script_id == "hello_back")
    assert (row.sends, row.guides, row.customers, row.orders, row.amount) == (1, 1, 1, 1, Decimal("520"))


def test_a_broken_library_stops_the_start_naming_the_item(tmp_path: Path) -> None:
    config = Path(__file__).resolve().parent.parent / "config"
    text = (config / "sidebar.yaml").read_text("utf-8")
    (tmp_path / "materials").mkdir()
    (tmp_path / "materials" / "size_guide.png").write_bytes((config / "materials" / "size_guide.png").read_bytes())
    for broken, message in (
        (text.replace("{guide}，以后", "{coupon}，以后"), "item hello_first: unknown placeholder {coupon}"),
        (text.replace("pages/index/index.html", "pages/index/index"), "item mini_shop: a mini-program page must end"),
        (text.replace("https://shop.example.com/member-day", "ftp://x"), "item member_day: url must start"),
        (text.replace("id: care_tips", "id: hello_first"), "item hello_first: duplicate id"),
        (text.replace('"{days}天前"', '"{day}天前"'), "texts: card_days_ago: unknown placeholder"),
        (text.replace("发送失败：{reason}", "发送失败：{code}"), "labels: send_failed: unknown placeholder"),
        (text.replace("  note_save: 保存记录\n", ""), "labels: missing note_save"),
        (text.replace("  bad_note_empty: 请先填写跟进记录。\n", ""), "texts: missing bad_note_empty"),
    ):
        (tmp_path / "sidebar.yaml").write_text(broken, "utf-8")
        with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
            sidebar_config.load(tmp_path)


async def test_an_operator_reloads_the_library_by_chat_and_the_sidebar_uses_it(
    make_settings: Callable[..., Any], sim: Any, tmp_path: Path
) -> None:
    import shutil


    shutil.copytree(CONFIG, tmp_path / "config")
    library_file = tmp_path / "config" / "sidebar.yaml"
    async with open_world(make_settings, sim, scrm_config_dir=tmp_path / "config") as world:
        say = partial(chat.say, stack_of(world.app, sim, world.http), "operator01")

        library_file.write_text(library_file.read_text("utf-8").replace("以后您有任何", "{oops}以后您有任何"), "utf-8")
        reply = await say("重载话术库")
        assert "有误，未生效" in reply and "hello_first" in reply and "oops" in reply
        assert world.deps.config[LIBRARY].items["hello_first"].title == "初次问候"

        fixed = library_file.read_text("utf-8").replace("{oops}", "").replace("初次问候", "初次问候（新）")
        library_file.write_text(fixed, "utf-8")
        assert "已重新加载" in await say("重载话术库")
        assert world.deps.config[LIBRARY].items["hello_first"].title == "初次问候（新）"


async def test_the_page_is_small_and_loads_nothing_but_wecoms_sdk(world: SidebarWorld) -> None:
    import gzip
    import re

    async with guide_client(world, "guide_sh01_a") as phone:
        page = await phone.login("guide_sh01_a")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        total = len(gzip.compress(page.encode()))
        for asset in assets:
            if asset.startswith("/"):
                async with phone.http.get(world.app_url + asset) as resp:
                    assert resp.status == 200
                    total += len(gzip.compress(await resp.read()))
            else:
                assert asset == f"{world.sim.url}/_sim/jsbridge.js"  # WeCom's SDK (here: its stand-in)
    assert total < 100_000, total
    assert "initial-scale=1" in page and 'lang="zh-CN"' in page


async def test_the_simulators_oauth_page_and_media_upload_refuse_what_wecom_refuses(sim: Any) -> None:
    state = sim.state
    state.browser.device.userid = "guide_sh01_a"
    state.add_member("guide_sh01_a")
    authorize = {"appid": state.corp_id, "response_type": "code", "scope": "snsapi_base", "state": "s1",
                 "redirect_uri": "http://127.0.0.1:9/sidebar/oauth"}
    async with aiohttp.ClientSession() as http:
        state.browser.trusted_domains = {"scrm.example.com"}
        async with http.get(f"{sim.url}/connect/oauth2/authorize", params=authorize, allow_redirects=False) as resp:
            assert resp.status == 400 and "50001" in await resp.text()
        state.browser.trusted_domains = {"127.0.0.1:9"}  # exact host and port
        async with http.get(f"{sim.url}/connect/oauth2/authorize", params=authorize, allow_redirects=False) as resp:
            assert resp.status == 302 and "state=s1" in resp.headers["Location"]
        async with http.get(f"{sim.url}/connect/oauth2/authorize", params=authorize | {"appid": "wwOTHER"},
                            allow_redirects=False) as resp:
            assert resp.status == 400 and "40013" in await resp.text()

        async with http.get(f"{sim.url}/cgi-bin/gettoken", params={"corpid": state.corp_id,
                                                                   "corpsecret": state.secret}) as resp:
            token = (await resp.json())["access_token"]
        for media_type, data, errcode in (("gif", b"GIF89a....", 40005), ("image", b"GIF89a....", 40004),
                                          ("file", b"abc", 40006), ("file", b"a small file", 0)):
            form = aiohttp.FormData()
            form.add_field("media", data, filename="x.bin")
            async with http.post(f"{sim.url}/cgi-bin/media/upload", params={"access_token": token, "type": media_type},
                                 data=form) as resp:
                assert (await resp.json())["errcode"] == errcode, media_type
    media = next(iter(state.browser.media.values()))
    assert media.expires_at - media.created_at == 3 * 86400
