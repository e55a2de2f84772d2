"""Coarse deadlines for awaits on the hot path: one shared timer instead of one per call.

``asyncio.timeout`` schedules and cancels a timer handle on every call, which on the callback
path costs more than the rest of its bookkeeping together. Ingest only needs "give up after
about 2 s so WeCom retries": a task registers its deadline in a dict, and one timer, running
while anything is registered, cancels the tasks whose deadline passed. The price is precision
(a deadline fires up to ``tick_s`` late), which a 2-second budget does not notice.

    deadlines = Deadlines(tick_s=0.1)
    try:
        with deadlines.within(2.0):
            await redis_call()
    except DeadlineExceeded:
        ...  # the await was cancelled at its deadline
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

__all__ = ["Deadlines", "DeadlineExceeded"]


class DeadlineExceeded(TimeoutError):
    """The guarded block did not finish within its budget (it was cancelled)."""


class Deadlines:
    def __init__(self, *, tick_s: float = 0.1) -> None:
        self.tick_s = tick_s
        self._due: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def within(self, budget_s: float) -> _Within:
        """Cancel the current task if the block is still running ``budget_s`` from now.

        The block then raises :class:`DeadlineExceeded` instead of the cancellation; a
        cancellation that came from elsewhere passes through unchanged.
        """
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Deadlines.within() needs a running task")
        return _Within(self, task, budget_s)

    def _enter(self, task: asyncio.Task[Any], budget_s: float) -> None:
        loop = task.get_loop()
        self._due[task] = loop.time() + budget_s
        if self._timer is None:
            self._timer = loop.call_later(self.tick_s, self._sweep, loop)

    def _exit(self, task: asyncio.Task[Any], cancelled: bool) -> bool:
        """Forget ``task``; True when its cancellation was this deadline's doing."""
        self._due.pop(task, None)
        if not self._expired or task not in self._expired:
            return False
        self._expired.discard(task)
        task.uncancel()
        # If the block swallowed the cancellation and finished anyway, its result stands.
        return cancelled

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        late = [task for task, due in self._due.items() if due <= now]
        for task in late:
            del self._due[task]
            if not task.done():
                self._expired.add(task)
                task.cancel()
        self._timer = loop.call_later(self.tick_s, self._sweep, loop) if self._due else None


class _Within:
    """The context manager of :meth:`Deadlines.within` (a class: no generator per call)."""

    __slots__ = ("_deadlines", "_task", "_budget_s")

    def __init__(self, deadlines: Deadlines, task: asyncio.Task[Any], budget_s: float) -> None:
        self._deadlines = deadlines
        self._task = task
        self._budget_s = budget_s

    def __enter__(self) -> None:
        self._deadlines._enter(self._task, self._budget_s)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        cancelled = exc_type is not None and issubclass(exc_type, asyncio.CancelledError)
        if self._deadlines._exit(self._task, cancelled):
            raise DeadlineExceeded(f"not done within {self._budget_s:g} s") from None
