"""Nobody can spend what the whole corp shares (issue 29): Redis memory, WeCom's ticket budget and
WeCom's per-corp API limits, tried as an attacker or an over-eager guide would, against the real
app and the simulator.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest

from bot.crypto import CallbackCrypto
from customers.models import CustomerTag
from simulator import eventxml
from simulator.callbacks import CallbackSender
from tagging.delivery import push_pending
from tests.conftest import AES_KEY, CORP_ID, METRICS_TOKEN, TOKEN, volume
from tests.support.sidebar import SidebarWorld, guide_client, open_world
from tests.support.windows import clear_of_the_hours_turn, clear_of_the_minutes_turn

LONG_NEXT = "/sidebar/?a=" + "x" * 8000  # "8 KB": as much as fits aiohttp's 8,190-byte request line


@pytest.fixture
async def world(make_settings: Callable[..., Any], sim: Any) -> AsyncIterator[SidebarWorld]:
    async with open_world(make_settings, sim) as opened:
        yield opened


async def redis_bytes(world: SidebarWorld) -> int:
    """What this test's keys hold in Redis (key names and values), in bytes."""
    redis = world.deps.redis
    total = 0
    async for key in redis.scan_iter(match=f"{{{world.deps.settings.scrm_redis_prefix}}}*", count=1000):
        total += len(key)
        kind = await redis.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            total += len(await redis.get(key) or b"")
        elif kind == "stream":
            total += sum(len(str(entry)) for entry in await redis.xrange(key))
        else:
            total += 64
    return total


async def metrics(world: SidebarWorld) -> str:
    async with world.http.get(f"{world.app_url}/metrics",
                              headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as resp:
        return await resp.text()


# --- finding 1: an anonymous flood of logins -----------------------------------------------------


async def anonymous_logins(url: str, count: int, concurrency: int = 16) -> list[int]:
    """``count`` logins with an 8 KB ``next``, as a script would send them (no cookies kept)."""
    statuses: list[int] = []
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:

        async def one() -> None:
            async with slots, http.get(f"{url}/sidebar/login", params={"next": LONG_NEXT},
                                       allow_redirects=False) as resp:
                statuses.append(resp.status)
                if resp.status == 429:
                    assert "太频繁" in await resp.text()

        await asyncio.gather(*(one() for _ in range(count)))
    return statuses


async def test_an_anonymous_login_flood_neither_fills_redis_nor_stops_callbacks(
    make_settings: Callable[..., Any], sim: Any
) -> None:
    async with open_world(make_settings, sim, scrm_sidebar_login_per_minute=30) as world:
        before = await redis_bytes(world)
        sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), world.app.callback_url, world.http)
        flood = asyncio.create_task(anonymous_logins(world.app_url, 1000))
        await asyncio.sleep(0.05)
        sim.state.add_external_contact("wmFLOOD0001", "洪女士")
        sim.state.relate("guide_sh01_a", "wmFLOOD0001")
        added = eventxml.change_external_contact(CORP_ID, sim.state.clock.now_int(), "add_external_contact",
                                                 "guide_sh01_a", "wmFLOOD0001")
        report = await sender.send(added)
        statuses = await flood
        assert report.delivered and report.statuses[0] == 200
        # The first 30 of the minute go to WeCom's OAuth page (30 more if the minute turned meanwhile).
        assert 30 <= statuses.count(302) <= 60
        assert statuses.count(429) == 1000 - statuses.count(302), "the rest are told to slow down"
        grown = await redis_bytes(world) - before
        assert grown < 100 * 1024, f"1,000 logins with 8 KB `next` left {grown} bytes in Redis"
        # The guide behind the same address still logs in the next minute.


async def test_a_login_still_works_and_returns_to_a_capped_page(world: SidebarWorld) -> None:
    customer = await world.customer_with_history("wmNEXT0001", "程女士")
    world.open_chat("guide_sh01_a", customer.external_userid)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for target, expected in (("/sidebar/?from=menu", "/sidebar/?from=menu"), (LONG_NEXT, "/sidebar/")):
            async with http.get(f"{world.app_url}/sidebar/login", params={"next": target},
                                allow_redirects=False) as resp:
                assert resp.status == 302
                state_cookie = resp.cookies["scrm_sidebar_state"].value
                assert len(state_cookie) < 1024, "the state cookie holds a capped `next`"
                authorize = resp.headers["Location"].split("#")[0]
            async with http.get(authorize, allow_redirects=False) as resp:
                callback = resp.headers["Location"]
            async with http.get(callback, allow_redirects=False) as resp:
                assert resp.status == 302 and resp.headers["Location"] == expected


async def test_the_oauth_callback_is_rate_limited_per_address(make_settings: Callable[..., Any], sim: Any) -> None:
    async with open_world(make_settings, sim, scrm_sidebar_login_per_minute=5) as world:
        await clear_of_the_minutes_turn()
        answers = []
        for _ in range(8):
            async with world.http.get(f"{world.app_url}/sidebar/oauth", params={"code": "x", "state": "y"},
                                      allow_redirects=False) as resp:
                answers.append((resp.status, await resp.text()))
        assert [status for status, _ in answers] == [400] * 5 + [429] * 3
        assert "太频繁" in answers[-1][1] and "Traceback" not in answers[-1][1]
        assert 'scrm_sidebar_rate_limited_total{limit="login"} 3.0' in await metrics(world)
    assert sim.state.count_calls("auth/getuserinfo") == 0


async def test_behind_a_trusted_proxy_each_visitor_has_its_own_limit(
    make_settings: Callable[..., Any], sim: Any
) -> None:
    async with open_world(make_settings, sim, scrm_sidebar_login_per_minute=2,
                          scrm_trusted_proxies="127.0.0.1") as world:
        async def status(forwarded: str) -> int:
            async with world.http.get(f"{world.app_url}/sidebar/login", allow_redirects=False,
                                      headers={"X-Forwarded-For": forwarded}) as resp:
                return resp.status

        await clear_of_the_minutes_turn()
        assert [await status("203.0.113.5") for _ in range(3)] == [302, 302, 429]
        assert await status("203.0.113.6") == 302, "another visitor behind the same proxy"
        # A visitor cannot pick a fresh address by sending its own X-Forwarded-For: only the hop the
        # proxy added (the last one) counts.
        assert await status("198.51.100.1, 203.0.113.5") == 429


async def test_a_redis_write_error_is_a_503_page_without_a_trace(world: SidebarWorld) -> None:
    redis = world.deps.redis
    original = redis.pipeline
    redis.pipeline = lambda *a, **k: _FailingPipeline()  # type: ignore[method-assign]
    try:
        async with world.http.get(f"{world.app_url}/sidebar/login", allow_redirects=False) as resp:
            page = await resp.text()
            assert resp.status == 503 and "稍后" in page and "Traceback" not in page and "OOM" not in page
    finally:
        redis.pipeline = original  # type: ignore[method-assign]


class _FailingPipeline:
    """Redis at ``maxmemory`` with ``noeviction``: every write is refused."""

    async def __aenter__(self) -> _FailingPipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        if name == "execute":
            async def execute(*args: Any, **kwargs: Any) -> Any:
                from redis.exceptions import ResponseError

                raise ResponseError("OOM command not allowed when used memory > 'maxmemory'.")

            return execute
        return lambda *args, **kwargs: self


# --- finding 2: ticket renewals -----------------------------------------------------------------


async def test_a_hundred_renewals_fetch_at_most_one_ticket_and_other_guides_keep_working(
    make_settings: Callable[..., Any], sim: Any
) -> None:
    async with (
        open_world(make_settings, sim, scrm_sidebar_ticket_min_age_s=0) as world,
        guide_client(world, "guide_sh01_a") as attacker,
        guide_client(world, "guide_sh01_b") as colleague,
    ):
        status, signed = await attacker.get("/sidebar/api/jssdk", url=world.page_url)
        assert status == 200
        fetched = sim.state.count_calls("ticket/get")

        async def renewals() -> list[int]:
            """Each time with the fingerprint of the ticket it was just signed with, as a script would."""
            fp, statuses = signed["agentConfig"]["ticket_fp"], []
            for _ in range(100):
                status, answer = await attacker.get("/sidebar/api/jssdk", url=world.page_url, renew="agent_config",
                                                    fp=fp)
                statuses.append(status)
                fp = answer.get("agentConfig", {}).get("ticket_fp", fp)
            return statuses

        async def colleague_signs() -> list[int]:
            return [(await colleague.get("/sidebar/api/jssdk", url=world.page_url))[0] for _ in range(10)]

        renewed, colleague_statuses = await asyncio.gather(renewals(), colleague_signs())
        assert set(renewed) == {200}
        assert colleague_statuses == [200] * 10
        assert sim.state.count_calls("ticket/get") <= fetched + 1


async def test_a_fresh_ticket_is_not_renewed(world: SidebarWorld) -> None:
    async with guide_client(world, "guide_sh01_a") as phone:
        _, signed = await phone.get("/sidebar/api/jssdk", url=world.page_url)
        fetched = world.sim.state.count_calls("ticket/get")
        fp = signed["agentConfig"]["ticket_fp"]
        status, again = await phone.get("/sidebar/api/jssdk", url=world.page_url, renew="agent_config", fp=fp)
        assert status == 200 and again["agentConfig"]["ticket_fp"] == fp
    assert world.sim.state.count_calls("ticket/get") == fetched


async def test_a_spent_ticket_budget_keeps_signing_with_the_cached_ticket(
    make_settings: Callable[..., Any], sim: Any
) -> None:
    async with (
        open_world(make_settings, sim, scrm_sidebar_ticket_fetch_per_hour=1, scrm_sidebar_ticket_min_age_s=0) as world,
        guide_client(world, "guide_sh01_a") as phone,
        guide_client(world, "guide_sh01_b") as colleague,
    ):
        _, signed = await phone.get("/sidebar/api/jssdk", url=world.page_url)
        fp = signed["agentConfig"]["ticket_fp"]
        sim.state.browser.tickets.clear()  # WeCom forgot it: a renewal is due, but the budget is spent
        status, again = await phone.get("/sidebar/api/jssdk", url=world.page_url, renew="agent_config", fp=fp)
        assert status == 200 and again["agentConfig"]["ticket_fp"] == fp
        status, theirs = await colleague.get("/sidebar/api/jssdk", url=world.page_url)
        assert status == 200 and theirs["agentConfig"]["ticket_fp"] == fp
    assert sim.state.count_calls("ticket/get") == 1


async def test_jssdk_is_only_for_members_the_product_knows(world: SidebarWorld) -> None:
    world.sim.state.add_member("stranger01")  # in WeCom, not in our address book
    async with guide_client(world, "stranger01") as stranger:
        status, answer = await stranger.get("/sidebar/api/jssdk", url=world.page_url)
        assert status == 403 and "error" in answer
    assert world.sim.state.count_calls("ticket/get") == 0
    assert world.sim.state.count_calls("get_jsapi_ticket") == 0


# --- finding 3: tag writes within the corp's budget -----------------------------------------------


@volume
async def test_a_thousand_tag_toggles_stay_within_the_budget_and_the_guide_is_told_to_slow_down(
    make_settings: Callable[..., Any], sim: Any
) -> None:
    async with open_world(make_settings, sim, scrm_mark_tag_per_hour=100, scrm_sidebar_writes_per_minute=1000,
                          scrm_wecom_interactive_share_pct=20) as world:
        mine = await world.customer_with_history("wmTOGGLE0001", "郑女士")
        async with guide_client(world, "guide_sh01_a") as phone:
            _, card = await phone.get("/sidebar/api/card", external_userid=mine.external_userid)
            tag_id = next(t for s in card["sections"] if s["id"] == "tags" for t in s["addable"])["tag_id"]
            await clear_of_the_hours_turn()
            before = sim.state.count_calls("externalcontact/mark_tag")
            slots = asyncio.Semaphore(16)

            async def toggle(i: int) -> tuple[int, Any]:
                body = {"external_userid": mine.external_userid, "action": "tag_remove" if i % 2 else "tag_add",
                        "tag_id": tag_id}
                async with slots:
                    return await phone.post("/sidebar/api/action", body)

            answers = await asyncio.gather(*(toggle(i) for i in range(1000)))
        calls = sim.state.count_calls("externalcontact/mark_tag") - before
        assert calls <= 20, f"the sidebar's share of 100 mark_tag an hour is 20; it made {calls}"
        refused = [answer for status, answer in answers if status == 429]
        assert refused and all("太频繁" in answer["error"] for answer in refused)


async def test_one_guide_is_limited_per_minute_like_chat_commands(make_settings: Callable[..., Any], sim: Any) -> None:
    async with open_world(make_settings, sim, scrm_sidebar_writes_per_minute=5) as world:
        mine = await world.customer_with_history("wmWRITES0001", "冯女士")
        async with guide_client(world, "guide_sh01_a") as phone, guide_client(world, "guide_sh01_b") as colleague:
            note = {"external_userid": mine.external_userid, "action": "note", "text": "到店试穿"}
            await clear_of_the_minutes_turn()
            statuses = [(await phone.post("/sidebar/api/action", note))[0] for _ in range(7)]
            assert statuses == [200] * 5 + [429] * 2
            status, answer = await colleague.post("/sidebar/api/action", note)
            assert status == 403, "another guide's own limit is untouched (403: not their customer)"


async def test_the_nightly_tag_push_is_not_starved_by_the_sidebar(make_settings: Callable[..., Any], sim: Any) -> None:
    async with open_world(make_settings, sim, scrm_mark_tag_per_hour=40, scrm_sidebar_writes_per_minute=1000,
                          scrm_wecom_interactive_share_pct=25) as world:
        await clear_of_the_hours_turn(180)
        mine = await world.customer_with_history("wmNIGHT0000", "夜女士")
        before = sim.state.count_calls("externalcontact/mark_tag")
        async with guide_client(world, "guide_sh01_a") as phone:
            _, card = await phone.get("/sidebar/api/card", external_userid=mine.external_userid)
            tag_id = next(t for s in card["sections"] if s["id"] == "tags" for t in s["addable"])["tag_id"]
            statuses = [(await phone.post("/sidebar/api/action", {
                "external_userid": mine.external_userid, "action": "tag_remove" if i % 2 else "tag_add",
                "tag_id": tag_id,
            }))[0] for i in range(60)]
        assert sim.state.count_calls("externalcontact/mark_tag") - before == 10, "the sidebar's share: 25% of 40"
        assert statuses.count(429) >= 25  # every toggle that needed WeCom past the share
        refused = 'scrm_wecom_budget_refused_total{api="externalcontact/mark_tag",lane="interactive"}'
        assert f"{refused} {float(statuses.count(429))}" in await metrics(world)
        # The nightly re-tag of more customers pushes their rule tags all the same: the rest is its own.
        later = [await world.customer_with_history(f"wmNIGHT{i:04d}", f"夜{i}") for i in range(1, 4)]
        assert sim.state.count_calls("externalcontact/mark_tag") - before == 13
        for customer in later:
            assert sim.state.tag_ids_of("guide_sh01_a", customer.external_userid)
        assert not await CustomerTag.filter(customer_id__in=[c.id for c in later], in_wecom=False).exists()
        assert (await push_pending(world.deps)).mark_tag_calls == 0, "nothing was left pending"


# --- finding 4: the small ones ------------------------------------------------------------------


def test_a_short_sidebar_secret_is_refused(make_settings: Callable[..., Any]) -> None:
    with pytest.raises(Exception, match="32"):
        make_settings(scrm_sidebar_secret="abc")


def test_a_rotated_key_still_verifies_the_old_cookies() -> None:
    from sidebar.session import SessionSigner

    old_key, new_key = b"o" * 32, b"n" * 32
    old = SessionSigner([old_key], 600)
    cookie = old.issue("wwcorp", "guide01", 1000)
    rotated = SessionSigner([new_key, old_key], 600)
    assert rotated.read(cookie, "wwcorp", 1001).userid == "guide01"
    fresh = rotated.issue("wwcorp", "guide01", 1001)
    assert SessionSigner([new_key], 600).read(fresh, "wwcorp", 1002).userid == "guide01"
    with pytest.raises(Exception, match="key"):
        SessionSigner([new_key], 600).read(cookie, "wwcorp", 1001)


async def test_without_an_https_public_url_the_sidebar_is_not_served_outside_local_use(
    make_settings: Callable[..., Any], sim: Any
) -> None:
    with pytest.raises(Exception, match="https"):
        make_settings(scrm_sidebar_public_url="scrm.example.com")
    for url in ("", "http://scrm.example.com"):
        async with (
            open_world(make_settings, sim, scrm_sidebar_local=False, scrm_sidebar_public_url=url) as world,
            world.http.get(f"{world.app_url}/sidebar/login", allow_redirects=False,
                           headers={"Host": "evil.example"}) as resp,
        ):
            assert resp.status == 503 and "Location" not in resp.headers
            assert "稍后" in await resp.text()
    async with (
        open_world(make_settings, sim, scrm_sidebar_local=False,
                   scrm_sidebar_public_url="https://scrm.example.com") as world,
        world.http.get(f"{world.app_url}/sidebar/login", allow_redirects=False,
                       headers={"Host": "evil.example"}) as resp,
    ):
        assert resp.status == 302
        assert "redirect_uri=https://scrm.example.com/sidebar/oauth&" in unquote(resp.headers["Location"])
        assert "Secure" in resp.headers["Set-Cookie"]


async def test_odd_cookies_tokens_and_ids_are_4xx_not_500(world: SidebarWorld) -> None:
    mine = await world.customer_with_history("wmODD0001", "怪女士")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for cookie in ("scrm_sidebar=é.é", "scrm_sidebar=w6k.ab"):
            async with http.get(f"{world.app_url}/sidebar/api/card", params={"external_userid": "x"},
                                headers={"Cookie": cookie}) as resp:
                assert resp.status == 401
        async with http.get(f"{world.app_url}/sidebar/oauth", params={"code": "c", "state": "é"},
                            headers={"Cookie": "scrm_sidebar_state=é"}) as resp:
            assert resp.status == 400
    async with guide_client(world, "guide_sh01_a") as phone:
        status, _ = await phone.post("/sidebar/api/action", {"external_userid": mine.external_userid,
                                                              "action": "note", "text": "x"}, csrf="é")
        assert status == 403
        for odd in ("²", 2**63, "９"):
            for action, name in (("tag_add", "tag_id"), ("task_done", "task_id"), ("lead", "lead_id")):
                status, _ = await phone.post("/sidebar/api/action", {"external_userid": mine.external_userid,
                                                                      "action": action, name: odd})
                assert status in (400, 403), (action, odd, status)
        status, _ = await phone.post("/sidebar/api/sent", {"send_id": 2**63, "status": "sent"})
        assert status == 400


async def test_a_sidebar_write_body_that_trickles_is_cut_off(make_settings: Callable[..., Any], sim: Any) -> None:
    async with (
        open_world(make_settings, sim, scrm_body_timeout_s=0.3) as world,
        guide_client(world, "guide_sh01_a") as phone,
    ):
        async def trickle() -> AsyncIterator[bytes]:
            yield b'{"action": "note", '
            await asyncio.sleep(1.0)
            yield b'"text": "x"}'

        async with phone.http.post(f"{world.app_url}/sidebar/api/action", data=trickle(),
                                   headers={"X-CSRF-Token": phone.csrf}) as resp:
            assert resp.status == 408

        async def big() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b" " * 1024

        async with phone.http.post(f"{world.app_url}/sidebar/api/action", data=big(),
                                   headers={"X-CSRF-Token": phone.csrf}) as resp:
            assert resp.status == 413


def test_a_library_text_with_a_huge_format_spec_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    from bot.configfiles import ConfigError
    from sidebar import config as sidebar_config

    config = Path(__file__).resolve().parent.parent / "config"
    shutil.copytree(config / "materials", tmp_path / "materials")
    source = (config / "sidebar.yaml").read_text("utf-8")
    marker = "text: "
    at = source.index(marker, source.index("kind: text"))
    (tmp_path / "sidebar.yaml").write_text(source[:at] + marker + '"{name:>50000000}"\n' + source[
        source.index("\n", at) + 1:], "utf-8")
    with pytest.raises(ConfigError, match=r"sidebar\.yaml: line \d+: item hello_first: .*format spec"):
        sidebar_config.load(tmp_path)
