"""Headless Chromium for the sidebar's browser tests: Debian's ``chromium`` through ``chromedriver``.

Selenium is synchronous and the app under test runs on the test's event loop, so every browser
call goes to a thread (``await browser.call(...)``): the loop keeps serving the page meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import paperang_p2_fonts_cjk
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
T = TypeVar("T")


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


class Browser:
    def __init__(self, width: int = 375, height: int = 667) -> None:
        self.profile = tempfile.mkdtemp(prefix="scrm-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
            f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "--lang=zh-CN",
        ):
            options.add_argument(flag)
        # Chinese glyphs from the font the project already depends on (paperang-p2-fonts-cjk), so
        # screenshots are readable on a machine without CJK fonts.
        fonts = Path(self.profile) / "fonts.conf"
        fonts.write_text(
            '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
            f"<dir>{Path(paperang_p2_fonts_cjk.__file__).parent / 'fonts'}</dir>"
            '<include ignore_missing="yes">/etc/fonts/fonts.conf</include></fontconfig>',
            "utf-8",
        )
        service = Service(CHROMEDRIVER, env={**os.environ, "FONTCONFIG_FILE": str(fonts)})
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.set_window_size(width, height)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def open(self, url: str) -> None:
        await self.call(self.driver.get, url)

    def _text(self, selector: str) -> str:
        try:
            return str(self.driver.find_element(By.CSS_SELECTOR, selector).text)
        except (NoSuchElementException, StaleElementReferenceException):
            return ""

    async def text(self, selector: str) -> str:
        return await self.call(self._text, selector)

    async def wait_text(self, selector: str, expected: str, within: float = 15.0) -> str:
        """Wait until the element's text contains ``expected``; return it (or fail with what it was)."""
        deadline = time.monotonic() + within
        seen = ""
        while time.monotonic() < deadline:
            seen = await self.text(selector)
            if expected in seen:
                return seen
            await asyncio.sleep(0.1)
        status = await self.text("#status")
        raise AssertionError(f"{selector!r} never showed {expected!r}: {seen!r} (status: {status!r})")

    def _click(self, xpath: str) -> None:
        self.driver.find_element(By.XPATH, xpath).click()

    async def click(self, xpath: str, within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while True:
            try:
                await self.call(self._click, xpath)
                return
            except (NoSuchElementException, StaleElementReferenceException):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    def _type(self, selector: str, text: str) -> None:
        element = self.driver.find_element(By.CSS_SELECTOR, selector)
        element.clear()
        element.send_keys(text)

    async def type(self, selector: str, text: str) -> None:
        await self.call(self._type, selector, text)

    async def url(self) -> str:
        return await self.call(lambda: str(self.driver.current_url))

    async def page_source(self) -> str:
        return await self.call(lambda: str(self.driver.page_source))

    async def screenshot(self, path: Path) -> None:
        await self.call(self.driver.save_screenshot, str(path))

    async def cookies(self) -> list[dict[str, Any]]:
        return await self.call(self.driver.get_cookies)

    async def close(self) -> None:
        await self.call(self.driver.quit)
        shutil.rmtree(self.profile, ignore_errors=True)
