"""Route events to handlers: each handler is one decorated function; every match runs (fan-out).

A contact event must reach customers, tagging, SOP and leads alike, so unlike aiogram we do not
stop at the first match. Each handler runs on its own: one failing does not cancel the others,
and a retry runs only the handlers that have not succeeded yet.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar

import structlog

from bot.events import Event

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["Router", "Dispatcher", "DispatchOutcome", "Handler", "discover_routers"]

Handler = Callable[[Event, "Deps"], Awaitable[None]]
H = TypeVar("H", bound=Handler)
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str
    kind: str
    event: str | None
    change: str | None
    handler: Handler

    def matches(self, route: tuple[str, str, str]) -> bool:
        kind, event, change = route
        return (
            self.kind == kind
            and (self.event is None or self.event == event)
            and (self.change is None or self.change == change)
        )


class Router:
    """A feature module's handlers. ``@router.on("event", "change_external_contact", "add_external_contact")``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.subscriptions: list[Subscription] = []

    def on(self, kind: str, event: str | None = None, change: str | None = None) -> Callable[[H], H]:
        """Subscribe to (MsgType, Event, ChangeType); None matches anything."""

        def register(handler: H) -> H:
            name = f"{self.name}.{handler.__name__}"
            # One function may subscribe to several routes; two functions may not share a name.
            if any(sub.name == name and sub.handler is not handler for sub in self.subscriptions):
                raise ValueError(f"two handlers named {name}")
            self.subscriptions.append(Subscription(name, kind, event, change, handler))
            return handler

        return register

    def event(self, event: str, change: str | None = None) -> Callable[[H], H]:
        return self.on("event", event, change)

    def message(self, msg_type: str) -> Callable[[H], H]:
        return self.on(msg_type)


@dataclass(slots=True)
class DispatchOutcome:
    succeeded: set[str] = field(default_factory=set)
    failed: dict[str, BaseException] = field(default_factory=dict)
    matched: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def describe_failures(self) -> str:
        return "; ".join(f"{name}: {type(err).__name__}: {err}" for name, err in self.failed.items())


class Dispatcher:
    def __init__(self, routers: Iterable[Router]) -> None:
        self.subscriptions: list[Subscription] = []
        names: set[str] = set()
        for router in routers:
            if router.name in names:
                raise ValueError(f"two routers named {router.name}")
            names.add(router.name)
            self.subscriptions.extend(router.subscriptions)
        self._cache: dict[tuple[str, str, str], tuple[Subscription, ...]] = {}

    def handlers_for(self, route: tuple[str, str, str]) -> tuple[Subscription, ...]:
        found = self._cache.get(route)
        if found is None:
            found = tuple(sub for sub in self.subscriptions if sub.matches(route))
            self._cache[route] = found
        return found

    async def dispatch(self, event: Event, deps: Deps) -> DispatchOutcome:
        subs = [sub for sub in self.handlers_for(event.route) if sub.name not in event.done]
        outcome = DispatchOutcome(matched=len(subs))
        if not subs:
            return outcome
        results = await asyncio.gather(*(self._run(sub, event, deps) for sub in subs))
        for sub, error in zip(subs, results, strict=True):
            if error is None:
                outcome.succeeded.add(sub.name)
            else:
                outcome.failed[sub.name] = error
        return outcome

    @staticmethod
    async def _run(sub: Subscription, event: Event, deps: Deps) -> Exception | None:
        try:
            await sub.handler(event, deps)
        except Exception as err:  # noqa: BLE001 - isolate subscribers; the worker retries or dead-letters
            log.warning(
                "handler_failed",
                handler=sub.name,
                event_key=event.key,
                attempt=event.attempt,
                error=f"{type(err).__name__}: {err}",
            )
            return err
        return None


def discover_routers(package: ModuleType) -> list[Router]:
    """Every ``router`` defined by a module of ``package`` (e.g. ``handlers``): add a module, nothing else."""
    routers: list[Router] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, Router):
            routers.append(router)
    return routers
