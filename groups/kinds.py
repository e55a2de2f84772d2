"""Group playbook triggers: a registry (``@group_trigger``) and the built-in kinds — a new group, a
date (会员日, holidays), a weekly schedule. A trigger turns its parameters and a window of time into
occurrences: a key that makes each one distinct, its anchor instant, and (a new group) the group."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from bot.configfiles import ConfigError
from bot.registry import Registry
from customers.models import GroupChat

__all__ = ["TRIGGERS", "Occurrence", "TriggerKind", "group_trigger", "known_triggers"]

Fail = Callable[[str], ConfigError]


@dataclass(frozen=True, slots=True)
class Occurrence:
    key: str  # distinct per occurrence: the push is made once per (playbook, step, key, owner)
    anchor: datetime  # the local day's midnight (dated triggers) or the instant (a new group)
    chat_ids: tuple[str, ...] | None = None  # None: every group the playbook targets
    dated: bool = True


class TriggerKind(Protocol):
    def check(self, node: Mapping[str, Any], fail: Fail) -> Any:
        """The parameters as ``occurrences`` takes them; ``raise fail("…")`` names file and line."""

    async def occurrences(self, params: Any, since: datetime, until: datetime, tz: str) -> Sequence[Occurrence]:
        """What happened in ``(since, until]``, anchored so steps counting days from it can be dated."""


TRIGGERS: Registry[TriggerKind] = Registry("group trigger")
T = TypeVar("T", bound=type)


def group_trigger(name: str) -> Callable[[T], T]:
    """Register a group trigger kind under ``name`` (a group playbook's ``trigger.type``); once."""

    def register(cls: T) -> T:
        if name in TRIGGERS:  # its instance is new each time: refused by name
            raise TRIGGERS.taken(name)
        TRIGGERS.add(name, cls())
        return cls

    return register


def known_triggers() -> list[str]:
    return sorted(TRIGGERS.names())


def _local_days(since: datetime, until: datetime, tz: str) -> list[date]:
    zone = ZoneInfo(tz)
    first, last = since.astimezone(zone).date(), until.astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(tz))


@group_trigger("weekly")
class Weekly:
    """Every week on ``weekday`` (1 Monday … 7 Sunday)."""

    def check(self, node: Mapping[str, Any], fail: Fail) -> int:
        weekday = node.get("weekday")
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 1 <= weekday <= 7:
            raise fail("needs weekday: 1 (Monday) … 7 (Sunday)")
        return weekday

    async def occurrences(self, params: int, since: datetime, until: datetime, tz: str) -> Sequence[Occurrence]:
        return [Occurrence(f"{day.isocalendar().year}-W{day.isocalendar().week:02d}", _midnight(day, tz))
                for day in _local_days(since, until, tz) if day.isoweekday() == params]


@group_trigger("date")
class OnDates:
    """On each of ``dates`` (YYYY-MM-DD): 会员日, a holiday, a launch."""

    def check(self, node: Mapping[str, Any], fail: Fail) -> tuple[date, ...]:
        dates = node.get("dates")
        if not isinstance(dates, list) or not dates or not all(isinstance(d, date) for d in dates):
            raise fail("needs dates: a list of YYYY-MM-DD")
        return tuple(dates)

    async def occurrences(self, params: tuple[date, ...], since: datetime, until: datetime,
                          tz: str) -> Sequence[Occurrence]:
        days = set(_local_days(since, until, tz))
        return [Occurrence(day.isoformat(), _midnight(day, tz)) for day in params if day in days]


@group_trigger("new_group")
class NewGroup:
    """A customer group was created (its own steps go to that group alone)."""

    def check(self, node: Mapping[str, Any], fail: Fail) -> None:
        return None

    async def occurrences(self, params: None, since: datetime, until: datetime, tz: str) -> Sequence[Occurrence]:
        chats = await GroupChat.filter(created_at__gt=since, created_at__lte=until, dismissed_at__isnull=True)
        return [Occurrence(f"chat:{chat.chat_id}", chat.created_at, (chat.chat_id,), dated=False)
                for chat in chats if chat.created_at is not None]
