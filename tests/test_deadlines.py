"""The shared deadline timer: cancels late blocks only, and never eats a foreign cancellation."""

from __future__ import annotations

import asyncio

import pytest

from bot.deadlines import DeadlineExceeded, Deadlines


async def test_a_late_block_is_cut_off_and_an_early_one_is_not() -> None:
    deadlines = Deadlines(tick_s=0.02)

    async def guarded(work_s: float) -> str:
        with deadlines.within(0.1):
            await asyncio.sleep(work_s)
        return "done"

    slow = asyncio.create_task(guarded(5.0))
    fast = asyncio.create_task(guarded(0.01))
    assert await fast == "done"
    started = asyncio.get_running_loop().time()
    with pytest.raises(DeadlineExceeded):
        await slow
    assert asyncio.get_running_loop().time() - started < 0.5
    assert slow.cancelling() == 0, "the deadline's own cancel request is taken back"
    await asyncio.sleep(0.05)
    assert deadlines._timer is None, "no timer keeps running once nothing is guarded"


async def test_a_cancellation_from_elsewhere_passes_through() -> None:
    deadlines = Deadlines(tick_s=0.02)
    entered = asyncio.Event()

    async def guarded() -> None:
        with deadlines.within(10.0):
            entered.set()
            await asyncio.sleep(5.0)

    task = asyncio.create_task(guarded())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_work_after_the_block_is_not_cancelled() -> None:
    deadlines = Deadlines(tick_s=0.02)

    async def guarded() -> str:
        with pytest.raises(DeadlineExceeded), deadlines.within(0.05):
            await asyncio.sleep(5.0)
        await asyncio.sleep(0.1)  # outlives several ticks: must run to the end
        return "answered 503"

    assert await guarded() == "answered 503"
