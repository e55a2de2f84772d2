"""The SOP's kinds: registries of its closed vocabularies (trigger kinds, step actions, goals), one
decorator each; the built-in triggers are in ``sop/kinds/triggers.py``, the goals in
``sop/kinds/goals.py`` (both named in the ``kinds`` slot of sop/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from bot.configfiles import ConfigError
from bot.registry import Registry
from bot.sqldialect import SqlParams

__all__ = ["Fail", "TriggerKind", "Window", "trigger", "TRIGGERS", "ACTIONS", "GOALS", "goal"]

Fail = Callable[[str], ConfigError]  # an error naming the file, the line and the playbook


@dataclass(frozen=True, slots=True)
class Window:
    """Which anchors a step looks at in one sweep.

    Event triggers get ``since``/``until`` (UTC instants of the anchor); date triggers get the
    local ``day`` of the anchor and the ``tz`` to read it in.
    """

    since: datetime
    until: datetime
    day: date
    tz: str

    def covers(self, column: str, sql: SqlParams) -> str:
        """SQL: ``column`` falls in this sweep, ``(since, until]`` (each instant in exactly one sweep)."""
        return f"{column} > {sql.add(self.since)} AND {column} <= {sql.add(self.until)}"


class TriggerKind(Protocol):
    """A trigger: checks its parameters, and selects anchors as SQL.

    ``anchors`` returns a SELECT with columns customer_id, guide_id (or NULL: the customer's guide),
    occurrence (text), anchor_at (timestamp; event triggers only), detail (text).
    """

    dated: bool  # True: anchors are local days (birthday, holiday); False: instants (an add, an order)

    def check(self, params: Mapping[str, Any], fail: Fail, context: Mapping[str, Any]) -> Any:
        """The trigger's parameters as its ``anchors`` takes them; ``raise fail("…")`` names file,
        line and playbook."""

    def anchors(self, params: Any, window: Window, sql: SqlParams) -> str | None: ...


TRIGGERS: Registry[TriggerKind] = Registry("SOP trigger")
T = TypeVar("T", bound=type)


def trigger(name: str) -> Callable[[T], T]:
    """Register a trigger kind under ``name`` (the ``trigger.type`` of a playbook)."""

    def register(cls: T) -> T:
        if name in TRIGGERS:  # its instance is new each time: refused by class
            raise TRIGGERS.taken(name)
        TRIGGERS.add(name, cls())
        return cls

    return register


# Step actions: what the guide is asked to do (shown in their list as the template
# ``sop_action_<action>``). ``mass`` steps are also prepared in WeCom with add_msg_template for the
# guide to confirm.
ACTIONS: tuple[str, ...] = ("message", "mass", "group_post")


# Goals: an SQL condition on ``t`` (the sop_task row) that, once true, closes the task. ``since``
# bounds the facts to look at (the sweep's window), so an idle tick stays cheap.
GoalFn = Callable[[SqlParams, datetime], str]
GOALS: Registry[GoalFn] = Registry("SOP goal")
G = TypeVar("G", bound=GoalFn)


def goal(name: str) -> Callable[[G], G]:
    """Register a goal under ``name`` (the ``goal`` of a playbook)."""

    def register(func: G) -> G:
        GOALS.add(name, func)
        return func

    return register
