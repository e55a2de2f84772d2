"""The nearest-store page (门店活码) in headless Chromium: a visitor near 西湖店 who shares their location
sees 西湖店's code; one who refuses picks 上海 / 静安区 and sees 静安店's; one far from both sees the
brand's default code. The page tells nothing about the other store; one address asking 100 times a
second is refused politely.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from acquisition.config import ACQUISITION
from acquisition.page import nearest_store
from bot.app import create_app
from channels.models import ContactWay
from channels.service import sync_channels
from config.settings import Settings
from customers.config import ORG
from tests.conftest import RunningApp, serve_app
from tests.support.browser import Browser, chromium_available
from tests.test_acquisition import acq_config, build_corp  # noqa: F401 - the same corp and config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

NEAR_XIHU = (30.2500, 120.1600)  # a few hundred metres from 西湖店
FAR_AWAY = (39.9042, 116.4074)  # 北京: no store within 20 km


@pytest.fixture
async def app(make_settings: Callable[..., Settings], sim: Any, acq_config: Path) -> AsyncIterator[RunningApp]:  # noqa: F811
    build_corp(sim.state)
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=acq_config)
    async with serve_app(create_app(settings, role="web")) as running:
        await sync_channels(running.deps)
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not chromium_available():  # never skipped: a missing browser fails the run, loudly
        pytest.fail("chromium and chromium-driver are not installed")
    opened = Browser()
    try:
        yield opened
    finally:
        await opened.close()


async def qr_of(store: str) -> str:
    way = await ContactWay.get(channel__state=f"s_{store}")
    return way.qr_code


async def located(browser: Browser, origin: str, where: tuple[float, float] | None) -> None:
    """The visitor's answer to the location prompt: a position, or a refusal."""
    driver = browser.driver
    if where is None:
        await browser.call(driver.execute_cdp_cmd, "Browser.setPermission", {
            "origin": origin, "permission": {"name": "geolocation"}, "setting": "denied"})
        return
    await browser.call(driver.execute_cdp_cmd, "Browser.grantPermissions", {
        "origin": origin, "permissions": ["geolocation"]})
    await browser.call(driver.execute_cdp_cmd, "Emulation.setGeolocationOverride", {
        "latitude": where[0], "longitude": where[1], "accuracy": 50})


async def shown_qr(browser: Browser) -> str:
    for _ in range(150):
        src = await browser.call(lambda: browser.driver.find_element(By.ID, "qr").get_attribute("src") or "")
        if src:
            return str(src)
        await asyncio.sleep(0.1)
    raise AssertionError(await browser.page_source())


async def test_a_visitor_who_shares_their_location_sees_the_nearest_stores_code(
    app: RunningApp, browser: Browser
) -> None:
    await located(browser, app.url, NEAR_XIHU)
    await browser.open(f"{app.url}/s/spring")
    assert await shown_qr(browser) == await qr_of("sb")
    assert "西湖店" in await browser.wait_text("#status", "西湖店")
    assert "杭州市西湖区湖滨路" in await browser.text("#store-address")
    assert "公里" in await browser.text("#distance")
    source = await browser.page_source()
    assert "静安" not in source.split("<select")[0]  # nothing of the other store but its city/district names
    assert await qr_of("sa") not in source


async def test_a_visitor_who_refuses_picks_a_city_and_district(app: RunningApp, browser: Browser) -> None:
    await located(browser, app.url, None)
    await browser.open(f"{app.url}/s/spring")
    await browser.wait_text("#choose", "请选择")

    def choose() -> None:
        Select(browser.driver.find_element(By.ID, "city")).select_by_value("上海")
        Select(browser.driver.find_element(By.ID, "district")).select_by_value("静安区")
        browser.driver.find_element(By.CSS_SELECTOR, "#choose button").click()

    await browser.call(choose)
    assert await shown_qr(browser) == await qr_of("sa")
    assert "静安店" in await browser.text("#store-name")


async def test_far_from_every_store_the_brand_default_code(app: RunningApp, browser: Browser) -> None:
    await located(browser, app.url, FAR_AWAY)
    await browser.open(f"{app.url}/s/spring")
    default = await ContactWay.get(channel__state="brand_default")
    assert await shown_qr(browser) == default.qr_code
    assert "品牌顾问" in await browser.text("#status")


async def test_a_store_without_guides_is_not_open(app: RunningApp) -> None:
    # 西湖店's code loses its members (nobody would answer a scan): the nearest open store is shown instead.
    await ContactWay.filter(channel__state="s_sb").update(users=[])
    conf = app.deps.config[ACQUISITION].campaigns["spring"]
    found = await nearest_store(app.deps.config[ORG].stores, conf, lat=NEAR_XIHU[0], lng=NEAR_XIHU[1])
    assert found is not None and found.store == ""  # 静安店 is 160 km away: the default


async def test_one_address_asking_100_times_a_second_is_refused_politely(app: RunningApp) -> None:
    async with aiohttp.ClientSession() as http:

        async def ask(i: int) -> tuple[int, str, str]:
            url = f"{app.url}/s/spring/store?lat={NEAR_XIHU[0]}&lng={NEAR_XIHU[1]}" if i % 2 else f"{app.url}/s/spring"
            async with http.get(url) as response:
                return response.status, response.headers.get("Retry-After", ""), await response.text()

        answers = await asyncio.gather(*(ask(i) for i in range(100)))
        async with http.get(f"{app.url}/s/nowhere") as response:
            unknown = response.status
    statuses = [status for status, _, _ in answers]
    # 30 a minute per address (a burst may straddle two minutes: then 30 of each).
    assert statuses.count(200) in (30, 60) and statuses.count(429) == 100 - statuses.count(200)
    page = next(a for i, a in enumerate(answers) if a[0] == 429 and i % 2 == 0)
    assert page[1].isdigit() and "请稍等一分钟再试" in page[2] and "<html" in page[2]
    store = next(a for i, a in enumerate(answers) if a[0] == 429 and i % 2)
    assert orjson.loads(store[2]) == {"text": "访问太频繁了，请稍等一分钟再试"}
    assert unknown in (404, 429)  # an unknown campaign: "页面不存在", unless this minute is spent
