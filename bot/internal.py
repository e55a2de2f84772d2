"""Typed internal events: one feature tells the others something happened, through the queue.

Each internal event is declared once, as a frozen dataclass beside the one function that publishes
it (in the feature that owns the fact), and handlers receive that typed value, not a dict:

    @internal_event("customer_changed")
    class CustomerChanged(InternalEvent):
        customer_id: int
        cause: str

    await CustomerChanged(customer.id, "order").publish(deps, event.key)

    @router.internal(CustomerChanged)
    async def on_customer_changed(change: CustomerChanged, deps: Deps, key: str) -> None: ...

On the wire nothing changed: the stream entry's body is ``{"type": name, **fields}`` and its key
``name:key`` (bot/publish.py), so events queued before a deploy still parse. Scheduled ticks carry
no payload; they stay ``bot.scheduler.Schedule``s (``@router.tick(SOP_TICK)``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from bot.errors import PermanentFailure
from bot.publish import publish
from bot.registry import Registry

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["InternalEvent", "internal_event", "known_events"]

_EVENTS: Registry[type[InternalEvent]] = Registry("internal event")
_HINTS: dict[type[InternalEvent], dict[str, Any]] = {}
_SIMPLE = (int, float, str, bool)


class InternalEvent:
    """Base of every internal event; subclasses are declared with ``@internal_event(name)``."""

    name: ClassVar[str] = ""

    def payload(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}  # type: ignore[arg-type]

    async def publish(self, deps: Deps, key: str) -> bool:
        """Queue this event; False when an event of this type with this key was queued before."""
        return await publish(deps, self.name, self.payload(), key)

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> Self:
        """The typed value of a queued body; a missing or mistyped field is a PermanentFailure
        (the entry can never be handled, retrying will not change it)."""
        hints = _hints(cls)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            if field.name not in body:
                if field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING:
                    continue
                raise PermanentFailure(f"internal event {cls.name}: missing field {field.name!r}")
            value = body[field.name]
            if not _fits(value, hints[field.name]):
                raise PermanentFailure(f"internal event {cls.name}: field {field.name!r} is {type(value).__name__}")
            values[field.name] = value
        return cls(**values)


E = TypeVar("E", bound=InternalEvent)


@typing.dataclass_transform(frozen_default=True)
def internal_event(name: str) -> Callable[[type[E]], type[E]]:
    """Declare an internal event type (made a frozen dataclass); a name is declared once."""

    def declare(cls: type[E]) -> type[E]:
        if name in _EVENTS:  # the dataclass made of it is new each time: refused by name
            raise _EVENTS.taken(name)
        cls.name = name
        declared = dataclasses.dataclass(frozen=True, slots=True)(cls)
        _EVENTS.add(name, declared)
        return declared

    return declare


def _hints(cls: type[InternalEvent]) -> dict[str, Any]:
    """The field annotations, resolved once per event type (not once per event parsed)."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def known_events() -> dict[str, type[InternalEvent]]:
    return dict(_EVENTS.items())


def _fits(value: Any, hint: Any) -> bool:
    """A light check of JSON values against simple annotations; other shapes pass as they are."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_fits(value, arm) for arm in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in _SIMPLE:
        return isinstance(value, hint)
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        return isinstance(value, list | tuple)
    if origin in (dict, Mapping) or hint is dict:
        return isinstance(value, dict)
    return True
