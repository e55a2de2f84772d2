"""One registry type for everything registered by name: chat commands and their argument kinds, tag
rule types, SOP triggers and goals, lead patterns, board metrics, card sections, hand-over hooks,
internal events…

Each refuses a second thing under a name already taken (the same thing twice is fine: a module
imported again), answers an unknown name with the known ones, lists what it holds in registration
order, and is frozen once every feature is loaded at process start (bot/feature.py ``load_features``):
whatever registers later is a module the features do not name, and stops with a clear error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["Registry", "UnknownName", "freeze_all"]

T = TypeVar("T")
V = TypeVar("V")

_ALL: list[Registry[object]] = []


class UnknownName(LookupError):
    """A name no one registered: the message says which are known."""


class Registry(Generic[T]):
    """``name → T``; ``what`` is how errors name one item (``"tag rule type"``). A process-wide
    registry is frozen at start (``freeze_all``); one built for a value (an app's chat commands from
    its routers) passes ``process_wide=False`` and is frozen by whoever built it."""

    __slots__ = ("what", "_items", "_frozen")

    def __init__(self, what: str, *, process_wide: bool = True) -> None:
        self.what = what
        self._items: dict[str, T] = {}
        self._frozen = False
        if process_wide:
            _ALL.append(self)  # type: ignore[arg-type]

    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name``; a different item under a taken name is refused."""
        known = self._items.get(name)
        if known is item:
            return item
        if known is not None:
            raise self.taken(name)
        if self._frozen:
            raise RuntimeError(f"{self.what} {name!r} registered after start: name its module in its feature's "
                               "declaration (bot/feature.py)")
        self._items[name] = item
        return item

    def register(self, name: str) -> Callable[[V], V]:
        """The decorator form: ``@registry.register("name")`` over the item itself."""

        def register(item: V) -> V:
            self.add(name, item)  # type: ignore[arg-type]
            return item

        return register

    def taken(self, name: str) -> ValueError:
        return ValueError(f"{self.what} {name!r} is registered already")

    def unknown(self, name: str) -> UnknownName:
        return UnknownName(f"unknown {self.what} {name!r} (known: {self.known()})")

    def known(self) -> str:
        return ", ".join(sorted(self._items)) or "none"

    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise self.unknown(name) from None

    def get(self, name: str) -> T | None:
        return self._items.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())

    def values(self) -> list[T]:
        return list(self._items.values())

    def freeze(self) -> None:
        self._frozen = True

    @property
    def frozen(self) -> bool:
        return self._frozen

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {self.known()})"


def freeze_all() -> None:
    """Freeze every registry: what is registered at start is all there is."""
    for registry in _ALL:
        registry.freeze()
