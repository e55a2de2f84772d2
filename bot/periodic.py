"""A side task repeated while a block runs: the spool's drain, the config check, an outbox lease's renewal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

__all__ = ["repeating"]


@contextlib.asynccontextmanager
async def repeating(every_s: float, action: Callable[[], Awaitable[object]], failed: Callable[[Exception], None],
                    *, name: str) -> AsyncIterator[None]:
    """Run ``action`` every ``every_s`` seconds (the first after one wait) until the block ends. An error is handed
    to ``failed`` (to log) and the next round goes on: a side task must not die of one bad round."""

    async def forever() -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await action()
            except Exception as err:  # noqa: BLE001 - ``failed`` says it; the next round is the recovery
                failed(err)

    task = asyncio.create_task(forever(), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
