"""Send-once: a retry never repeats a message, and neither do two workers on the same key at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.app import open_deps
from bot.clock import ManualClock
from bot.models.outbox import Outbox
from bot.outbox import CLAIM_TTL, SendInProgress, send_once
from config.settings import Settings


async def test_two_workers_on_one_key_send_once(make_settings: Callable[..., Settings]) -> None:
    clock = ManualClock()
    sent: list[str] = []
    gate = asyncio.Event()

    async def slow_send() -> None:
        await gate.wait()
        sent.append("hello")

    async with open_deps(make_settings(), clock=clock):
        first = asyncio.create_task(send_once("board:daily:hq", "board", "hq", slow_send, clock))
        await asyncio.sleep(0.05)  # the first worker holds the claim and is mid-send
        with pytest.raises(SendInProgress):
            await send_once("board:daily:hq", "board", "hq", slow_send, clock)
        gate.set()
        assert await first is True
        assert await send_once("board:daily:hq", "board", "hq", slow_send, clock) is False  # the retry
        assert sent == ["hello"]
        assert (await Outbox.get(key="board:daily:hq")).status == "sent"


async def test_a_failed_send_is_released_and_a_crashed_claim_expires(make_settings: Callable[..., Settings]) -> None:
    clock = ManualClock()
    calls: list[int] = []

    async def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("WeCom unreachable")

    async def ok() -> None:
        calls.append(2)

    async with open_deps(make_settings(), clock=clock):
        with pytest.raises(ConnectionError):
            await send_once("k1", "alert", "u", flaky, clock)
        assert await send_once("k1", "alert", "u", flaky, clock) is True  # released: the retry sends
        # A worker died mid-send: its claim stands until CLAIM_TTL, then another may send.
        await Outbox.create(key="k2", kind="alert", recipient="u", status="sending", claimed_at=clock.now())
        with pytest.raises(SendInProgress):
            await send_once("k2", "alert", "u", ok, clock)
        clock.advance(CLAIM_TTL + timedelta(seconds=1))
        assert await send_once("k2", "alert", "u", ok, clock) is True
        assert calls == [1, 1, 2]
