"""Route events to handlers: each handler is one decorated function; every match runs (fan-out).

A contact event must reach customers, tagging, SOP and leads alike, so unlike aiogram we do not
stop at the first match. Each handler runs on its own: one failing does not cancel the others,
and a retry runs only the handlers that have not succeeded yet.

The source is part of the route: a handler subscribes either to WeCom callbacks
(``@router.event(...)`` / ``@router.message(...)``, by MsgType, Event, ChangeType) or to another
source by name (``@router.on("internal", "retag_all")``, ``@router.on("signal")``). A WeCom
callback whose MsgType happens to read "internal" or "order" is still a WeCom callback and can
reach only WeCom handlers.

A router also carries its feature's chat commands (``@router.command``, bot/commands.py) and
hooks other features call (``@router.on_handover``, operators/handover.py): an app built from
given routers has exactly their commands and hooks (``deps.routers``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import structlog

from bot.commands import Arg, Command, CommandFunc
from bot.events import Event
from bot.feature import features, resolve
from bot.internal import InternalEvent
from bot.registry import Registry

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["WECOM", "Router", "Dispatcher", "DispatchOutcome", "Handler", "feature_routers", "hooks"]

WECOM = "wecom"
# MsgTypes WeCom sends: a reminder that ``on`` is for the other sources.
_CACHE_ROUTES = 4096
_WECOM_MSG_TYPES = frozenset({WECOM, "event", "text", "image", "voice", "video", "location", "link", "file"})

Handler = Callable[[Event, "Deps"], Awaitable[None]]
H = TypeVar("H", bound=Handler)
F = TypeVar("F", bound=Callable[..., Any])
IE = TypeVar("IE", bound=InternalEvent)
TypedHandler = Callable[[IE, "Deps", str], Awaitable[None]]


class Named(Protocol):
    @property
    def name(self) -> str: ...

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Subscription:
    name: str
    source: str
    kind: str
    event: str | None
    change: str | None
    handler: Handler

    def matches(self, source: str, route: tuple[str, str, str]) -> bool:
        kind, event, change = route
        return (
            self.source == source
            and self.kind == kind
            and (self.event is None or self.event == event)
            and (self.change is None or self.change == change)
        )


class Router:
    """A feature module's handlers. ``@router.event("change_external_contact", "add_external_contact")``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.subscriptions: list[Subscription] = []
        self.commands: list[Command] = []
        self.hooks: list[tuple[str, str, Callable[..., Any]]] = []  # (kind, name, function)

    def _subscribe(self, source: str, kind: str, event: str | None, change: str | None) -> Callable[[H], H]:
        def register(handler: H) -> H:
            name = f"{self.name}.{handler.__name__}"
            # One function may subscribe to several routes; two functions may not share a name.
            if any(sub.name == name and sub.handler is not handler for sub in self.subscriptions):
                raise ValueError(f"two handlers named {name}")
            self.subscriptions.append(Subscription(name, source, kind, event, change, handler))
            return handler

        return register

    def wecom(self, msg_type: str, event: str | None = None, change: str | None = None) -> Callable[[H], H]:
        """Subscribe to WeCom callbacks by (MsgType, Event, ChangeType); None matches anything."""
        return self._subscribe(WECOM, msg_type, event, change)

    def event(self, event: str, change: str | None = None) -> Callable[[H], H]:
        return self.wecom("event", event, change)

    def message(self, msg_type: str) -> Callable[[H], H]:
        return self.wecom(msg_type)

    def on(self, source: str, name: str | None = None) -> Callable[[H], H]:
        """Subscribe to a source other than WeCom: ``internal`` events (bot/publish.py) by name, or
        an intake source (``order``, ``chat``, ``signal``); None matches every name."""
        if source in _WECOM_MSG_TYPES:
            raise ValueError(f"{self.name}: on({source!r}) is for other sources; WeCom: .event() or .message()")
        return self._subscribe(source, source, name, None)

    def internal(self, event_type: type[IE]) -> Callable[[TypedHandler[IE]], TypedHandler[IE]]:
        """Subscribe to a typed internal event (bot/internal.py): the handler gets the parsed value,
        the dependencies and the event's key (to key what it publishes in turn)."""

        def register(handler: TypedHandler[IE]) -> TypedHandler[IE]:
            async def run(event: Event, deps: Deps) -> None:
                await handler(event_type.parse(event.body), deps, event.key)

            run.__name__ = handler.__name__
            self._subscribe("internal", "internal", event_type.name, None)(run)
            return handler

        return register

    def tick(self, schedule: Named) -> Callable[[H], H]:
        """Subscribe to a scheduled tick (``cron(...)`` / ``every(...)`` in bot/scheduler.py)."""
        return self.on("internal", schedule.name)

    def command(
        self, name: str, *aliases: str, args: Sequence[Arg] = (), roles: Iterable[str] | None = None, help: str = ""
    ) -> Callable[[CommandFunc], CommandFunc]:
        """A chat command: one decorated function. A name may have several words (``SOP 列表``);
        ``roles``: who may use it (the domain's role values, operators/roles.py), None: everyone."""

        def register(func: CommandFunc) -> CommandFunc:
            allowed = frozenset(roles) if roles is not None else None
            self.commands.append(Command(name, tuple(aliases), tuple(args), allowed, help, func))
            return func

        return register

    def hook(self, kind: str, name: str) -> Callable[[F], F]:
        """A function another feature calls by kind (``hooks(deps.routers, kind)``), labelled ``name``."""

        def register(func: F) -> F:
            self.hooks.append((kind, name, func))
            return func

        return register

    def on_handover(self, label: str) -> Callable[[F], F]:
        """A mover called with (deps, old_userid, new_userid, external_userids) once a hand-over moved
        customers, returning how many records it moved (operators/handover.py reports them by ``label``)."""
        return self.hook("handover", label)


def hooks(routers: Iterable[Router], kind: str) -> Registry[Callable[..., Any]]:
    """The ``kind`` hooks of these routers, by label; two with one label are refused."""
    found: Registry[Callable[..., Any]] = Registry(f"{kind} hook", process_wide=False)
    for router in routers:
        for hook_kind, name, func in router.hooks:
            if hook_kind == kind:
                found.add(name, func)
    found.freeze()
    return found


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
        self._cache: dict[tuple[str, tuple[str, str, str]], tuple[Subscription, ...]] = {}

    def handlers_for(self, source: str, route: tuple[str, str, str]) -> tuple[Subscription, ...]:
        key = (source, route)
        found = self._cache.get(key)
        if found is None:
            found = tuple(sub for sub in self.subscriptions if sub.matches(source, route))
            if len(self._cache) < _CACHE_ROUTES:  # routes come from input: odd ones are not kept
                self._cache[key] = found
        return found

    async def dispatch(self, event: Event, deps: Deps) -> DispatchOutcome:
        subs = [sub for sub in self.handlers_for(event.source, event.route) if sub.name not in event.done]
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


def feature_routers() -> list[Router]:
    """The ``router`` of every feature's handlers module, in module-name order (the order handlers of
    one event start in)."""
    names = sorted(name for feature in features() for name in feature.handlers)
    routers: list[Router] = []
    for name in names:
        router = getattr(resolve(name), "router", None)
        if not isinstance(router, Router):
            raise TypeError(f"{name} is a feature's handlers module (bot/feature.py) but defines no router")
        routers.append(router)
    return routers
