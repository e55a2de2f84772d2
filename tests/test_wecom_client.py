"""The WeCom client against the simulator over HTTP: tokens, retries, typed errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from bot.redis_conn import connect_redis
from bot.wecom.client import RetryPolicy, WeComClient
from bot.wecom.errors import NotExternalContact, WeComConfigError, WeComPermanentError, WeComRateLimited
from config.settings import Settings
from tests.conftest import AGENT_ID, BACKEND, CORP_ID, SECRET
from tests.support.windows import clear_of_the_hours_turn


@asynccontextmanager
async def client_for(settings: Settings, *, secret: str = SECRET, max_retries: int = 5) -> AsyncIterator[WeComClient]:
    """A client as one process builds it: its own HTTP session, the shared Redis."""
    redis = connect_redis(settings.redis_url)
    try:
        async with aiohttp.ClientSession() as http:
            yield WeComClient(
                http, api_base=settings.wecom_api_base, corp_id=CORP_ID, secret=secret, agent_id=AGENT_ID,
                redis=redis, redis_prefix=settings.scrm_redis_prefix,
                retry=RetryPolicy(max_retries, base_s=0.01, max_s=0.05),
            )
    finally:
        await redis.aclose()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], sim: Any) -> Settings:
    return make_settings(wecom_api_base=sim.url)


async def test_token_is_fetched_once_and_reused(settings: Settings, sim: Any) -> None:
    sim.state.add_member("guide01", "王小美")
    async with client_for(settings) as client:
        for _ in range(5):
            assert (await client.get_user("guide01"))["name"] == "王小美"
    assert sim.state.count_calls("gettoken") == 1


async def test_token_expiring_mid_run_is_refreshed_once(settings: Settings, sim: Any) -> None:
    sim.state.add_member("guide01", "王小美")
    async with client_for(settings) as client:
        await client.get_user("guide01")
        sim.state.advance(7300)  # past expires_in: WeCom now answers 42001
        await client.get_user("guide01")
        await client.get_user("guide01")
    assert sim.state.count_calls("gettoken") == 2
    assert sim.state.count_calls("user/get", errcode=42001) == 1


@pytest.mark.skipif(BACKEND == "embedded", reason="processes share a token only through a real Redis")
async def test_single_flight_across_processes(settings: Settings, sim: Any) -> None:
    sim.state.add_member("guide01", "王小美")
    async with client_for(settings) as first, client_for(settings) as second:
        await asyncio.gather(*(c.get_user("guide01") for c in (first, second) for _ in range(20)))
    assert sim.state.count_calls("gettoken") == 1, "20 workers must not stampede gettoken"


@pytest.mark.parametrize("fault", [{"errcode": 45009}, {"errcode": -1}, {"errcode": 45033}, {"http_status": 500}])
async def test_transient_failures_are_retried(settings: Settings, sim: Any, fault: dict[str, int]) -> None:
    sim.state.add_member("guide01", "王小美")
    sim.state.faults.inject("user/get", count=2, **fault)
    async with client_for(settings) as client:
        assert (await client.get_user("guide01"))["name"] == "王小美"
    assert sim.state.count_calls("user/get") == 3


async def test_rate_limit_that_does_not_clear_raises_after_bounded_retries(settings: Settings, sim: Any) -> None:
    sim.state.add_member("guide01", "王小美")
    sim.state.faults.inject("user/get", errcode=45009)
    async with client_for(settings, max_retries=3) as client:
        with pytest.raises(WeComRateLimited) as info:
            await client.get_user("guide01")
    assert info.value.errcode == 45009
    assert sim.state.count_calls("user/get") == 4


async def test_permanent_error_is_typed_and_not_retried(settings: Settings, sim: Any) -> None:
    sim.state.add_external_contact("wmLONELY")  # a WeChat user nobody in the corp has as a contact
    async with client_for(settings) as client:
        with pytest.raises(NotExternalContact) as info:
            await client.get_external_contact("wmLONELY")
        with pytest.raises(WeComPermanentError) as unknown:
            await client.get_external_contact("wmNOBODY")
    assert info.value.errcode == 84061 and info.value.errmsg
    assert unknown.value.errcode == 40096
    assert sim.state.count_calls("externalcontact/get") == 2


async def test_wrong_secret_fails_loudly_without_hammering(settings: Settings, sim: Any) -> None:
    async with client_for(settings, secret="wrong-secret") as client:
        with pytest.raises(WeComConfigError) as info:
            await client.get_user("guide01")
    assert info.value.errcode == 40001
    assert sim.state.count_calls("gettoken") == 1


async def test_timeouts_are_retried(settings: Settings, sim: Any) -> None:
    sim.state.add_member("guide01", "王小美")
    sim.state.faults.inject("user/get", latency=1.0, count=1)
    async with client_for(settings) as client:
        client._timeout = aiohttp.ClientTimeout(total=0.3)
        assert (await client.get_user("guide01"))["name"] == "王小美"
    assert sim.state.count_calls("user/get") == 2


# --- the shared per-API budget (bot/wecom/budget.py) --------------------------------------------


def budgets_for(settings: Settings, redis: Any) -> Any:
    from bot.wecom.budget import api_budgets

    return api_budgets(redis, settings)


@asynccontextmanager
async def budgeted_client(settings: Settings) -> AsyncIterator[WeComClient]:
    """A client as ``open_deps`` builds it: the budgets of these settings, in the shared Redis."""
    redis = connect_redis(settings.redis_url)
    try:
        async with aiohttp.ClientSession() as http:
            yield WeComClient(
                http, api_base=settings.wecom_api_base, corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID,
                redis=redis, redis_prefix=settings.scrm_redis_prefix,
                retry=RetryPolicy(2, base_s=0.01, max_s=0.05), budgets=budgets_for(settings, redis),
            )
    finally:
        await redis.aclose()


def _tagged_relation(sim: Any) -> str:
    sim.state.add_member("guide01", "王小美")
    sim.state.add_tag_group("导购标记", ["高意向"])
    sim.state.add_external_contact("wmBUDGET01", "客户")
    sim.state.relate("guide01", "wmBUDGET01")
    return str(sim.state.tag_id("高意向"))


@pytest.mark.skipif(BACKEND == "embedded", reason="processes share a budget only through a real Redis")
async def test_every_process_draws_from_one_budget_per_api(make_settings: Callable[..., Settings], sim: Any) -> None:
    from bot.wecom.budget import BudgetSpent

    settings = make_settings(wecom_api_base=sim.url, scrm_mark_tag_per_hour=10)
    tag = _tagged_relation(sim)
    await clear_of_the_hours_turn()
    async with budgeted_client(settings) as first, budgeted_client(settings) as second:

        async def toggles(client: WeComClient) -> int:
            refused = 0
            for _ in range(8):
                try:
                    await client.mark_tag("guide01", "wmBUDGET01", add=[tag])
                except BudgetSpent:
                    refused += 1
            return refused

        refused = await asyncio.gather(toggles(first), toggles(second))
        assert sum(refused) == 6
        assert (await first.get_user("guide01"))["name"] == "王小美", "another API has its own budget"
    assert sim.state.count_calls("externalcontact/mark_tag") == 10


async def test_interactive_calls_get_a_share_and_background_work_keeps_the_rest(
    make_settings: Callable[..., Settings], sim: Any
) -> None:
    from bot.wecom.budget import BudgetSpent, interactive

    settings = make_settings(wecom_api_base=sim.url, scrm_mark_tag_per_hour=10, scrm_wecom_interactive_share_pct=20)
    tag = _tagged_relation(sim)
    await clear_of_the_hours_turn()
    async with budgeted_client(settings) as client:
        with interactive():
            for _ in range(2):
                await client.mark_tag("guide01", "wmBUDGET01", add=[tag])
            with pytest.raises(BudgetSpent) as spent:
                await client.mark_tag("guide01", "wmBUDGET01", add=[tag])
            assert spent.value.lane == "interactive" and spent.value.retry_after_s > 0
        for _ in range(8):  # the tag sync: the other 80% is still there
            await client.mark_tag("guide01", "wmBUDGET01", add=[tag])
        with pytest.raises(BudgetSpent):
            await client.mark_tag("guide01", "wmBUDGET01", add=[tag])
    assert sim.state.count_calls("externalcontact/mark_tag") == 10


async def test_a_per_second_budget_paces_background_work_instead_of_refusing(
    make_settings: Callable[..., Settings], sim: Any
) -> None:
    settings = make_settings(wecom_api_base=sim.url, scrm_wecom_api_budgets="user/get=3/s")
    sim.state.add_member("guide01", "王小美")
    async with budgeted_client(settings) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*(client.get_user("guide01") for _ in range(7)))
        assert loop.time() - started >= 1.0, "7 calls at 3 a second take at least two window turns"
    assert sim.state.count_calls("user/get") == 7


def test_budget_settings_are_checked(make_settings: Callable[..., Settings]) -> None:
    from bot.wecom.budget import Limit, parse_budgets

    assert parse_budgets("message/send=3000/m, externalcontact/mark_tag=5/s,externalcontact/mark_tag=9/h") == {
        "message/send": (Limit(3000, 60),), "externalcontact/mark_tag": (Limit(5, 1), Limit(9, 3600)),
    }
    for bad in ("message/send=3000", "message/send=0/s", "message/send=1/d"):
        with pytest.raises(Exception, match="api=calls/window"):
            make_settings(scrm_wecom_api_budgets=bad)
