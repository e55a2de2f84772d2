"""A small progress bar for long CLI jobs (backfill, re-tag): one line on stderr, redrawn in place."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    def __init__(self, label: str, total: int | None = None, *, stream: TextIO | None = None, enabled: bool = True):
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._started = time.monotonic()
        self._last_draw = 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._last_draw >= 0.2:
            self._last_draw = now
            self._draw()

    def set_total(self, total: int) -> None:
        self.total = total

    def finish(self) -> None:
        self._draw()
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self) -> None:
        if not self._enabled:
            return
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = self.done / elapsed
        if self.total:
            width = 30
            filled = int(width * min(self.done, self.total) / self.total)
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
        else:
            bar = f"{self.done}"
        self._stream.write(f"\r{self.label} {bar} {rate:,.0f}/s {elapsed:,.1f}s")
        self._stream.flush()
