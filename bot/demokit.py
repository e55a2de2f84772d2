"""What every chapter of ``scrm demo`` is given: the running app and simulator, and the narrator.

A feature's chapter is ``async def chapter(run: DemoRun) -> None`` in its ``demo.py``, named by
its ``demo`` entry in bot/features.py; bot/demo.py plays the chapters in table order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from simulator.callbacks import CallbackSender
from simulator.state import SimulatorState

__all__ = ["DEMO_SHOP_SECRET", "DemoRun", "say", "show", "wait_for"]

DEMO_SHOP_SECRET = b"demo-shop-secret"


def say(title: str) -> None:
    print(f"\n== {title}")


def show(line: str) -> None:
    print(f"   {line}")


async def wait_for(check: Callable[[], bool | Awaitable[bool]], within: float = 10.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < within:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return time.perf_counter() - started
        await asyncio.sleep(0.01)
    raise TimeoutError("the demo waited too long: is the worker running?")


@dataclass(frozen=True, slots=True)
class DemoRun:
    app: web.Application
    state: SimulatorState
    sender: CallbackSender
    http: aiohttp.ClientSession
    url: str  # the app's /wecom/callback
    settle: Callable[[], Awaitable[None]]  # wait until the queue is empty
