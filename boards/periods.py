"""Leaderboard periods in the configured time zone: day, week (Monday first), month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = ["Period", "PeriodKind", "last_complete", "to_date"]

PeriodKind = Literal["daily", "weekly", "monthly"]


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    start: datetime  # UTC
    end: datetime  # UTC, exclusive
    previous_start: datetime  # the period before, for the change arrows
    tz: str

    @property
    def template_id(self) -> str:
        """Its name as boards say it (日榜 …): a template, ``board_period_<kind>``."""
        return f"board_period_{self.kind}"

    def label(self) -> str:
        zone = ZoneInfo(self.tz)
        first = self.start.astimezone(zone)
        last = (self.end - timedelta(seconds=1)).astimezone(zone)
        return f"{first:%Y-%m-%d}" if first.date() == last.date() else f"{first:%m-%d}～{last:%m-%d}"


def _start_of(kind: str, local: datetime) -> datetime:
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "daily":
        return day
    if kind == "weekly":
        return day - timedelta(days=day.weekday())
    if kind == "monthly":
        return day.replace(day=1)
    raise ValueError(f"unknown period {kind!r}")


def _before(kind: str, start: datetime) -> datetime:
    """The start of the period before the one starting at ``start`` (local time)."""
    if kind == "daily":
        return start - timedelta(days=1)
    if kind == "weekly":
        return start - timedelta(days=7)
    return (start - timedelta(days=1)).replace(day=1)


def _utc(local: datetime) -> datetime:
    return local.astimezone(UTC)


def last_complete(kind: str, now: datetime, tz: str) -> Period:
    """The last whole period before ``now`` (what the 09:00 boards report: yesterday, last week …)."""
    zone = ZoneInfo(tz)
    current = _start_of(kind, now.astimezone(zone))
    start = _before(kind, current)
    # Rebuild in the zone after arithmetic so a DST change cannot shift the bounds.
    start, current = start.replace(tzinfo=zone), current.replace(tzinfo=zone)
    return Period(kind, _utc(start), _utc(current), _utc(_before(kind, start).replace(tzinfo=zone)), tz)


def to_date(kind: str, now: datetime, tz: str) -> Period:
    """The current period so far (the ``排行`` command), compared with the whole previous one."""
    zone = ZoneInfo(tz)
    start = _start_of(kind, now.astimezone(zone)).replace(tzinfo=zone)
    return Period(kind, _utc(start), now.astimezone(UTC), _utc(_before(kind, start).replace(tzinfo=zone)), tz)
