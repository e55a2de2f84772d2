"""Quiet hours: a daily local-time window (possibly across midnight) in which nobody is messaged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

__all__ = ["QuietHours"]


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time  # start == end: never quiet

    @classmethod
    def parse(cls, spec: str) -> QuietHours:
        """``"21:30-09:00"``; ``""`` for none. ValueError for anything else."""
        if not spec.strip():
            return cls(time(0), time(0))
        try:
            start_text, end_text = spec.split("-")
            return cls(_clock_time(start_text), _clock_time(end_text))
        except ValueError:
            raise ValueError(f"{spec!r} is not HH:MM-HH:MM") from None

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def holds(self, moment: datetime, timezone: str) -> bool:
        """Is ``moment`` inside the window in ``timezone``'s local time?"""
        return self.contains(moment.astimezone(ZoneInfo(timezone)).time())


def _clock_time(text: str) -> time:
    hour, minute = text.strip().split(":")
    return time(int(hour), int(minute))
