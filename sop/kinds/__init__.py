"""The SOP's kinds: registries of its closed vocabularies (trigger kinds, step actions, goals), one
decorator each; the built-in triggers are in ``sop/kinds/triggers.py``, the step actions in
``sop/kinds/steps.py``, the goals in ``sop/kinds/goals.py`` (all named in the ``kinds`` slot of
sop/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from bot.configfiles import ConfigError
from bot.registry import Registry
from bot.sqldialect import SqlParams

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["Fail", "TriggerKind", "OccasionTrigger", "Window", "trigger", "TRIGGERS", "StepKind", "ACTIONS",
           "step_action", "GOALS", "goal"]

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


@runtime_checkable
class OccasionTrigger(Protocol):
    """A dated trigger that falls on days for everyone (a holiday, a weekday): it can also drive a step
    that acts once per occurrence rather than once per customer (a moment)."""

    def occasion(self, params: Any, day: date) -> str | None:
        """What ``day`` is for this trigger (the holiday's name, the weekday), or None: not one of its days."""


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


class StepKind(Protocol):
    """A step action: what a due step asks of the guides.

    ``per_customer``: the engine makes one ``sop_task`` per customer and occurrence (a guide's to-do,
    shown in their list as the template ``sop_action_<action>``); otherwise one ``sop_occurrence`` per
    due occurrence of the step, for the whole audience at once (a moment). ``prepare`` runs after every
    sweep, under the engine's lease, and turns what fell due into WeCom tasks (idempotent: a re-run
    prepares nothing twice).
    """

    per_customer: bool

    def check(self, raw: Mapping[str, Any], fail: Fail, trigger: TriggerKind, playbook: Mapping[str, Any]) -> Any:
        """The step's own parameters (kept as ``Step.params``); ``raise fail("…")`` names file, line and step.
        ``playbook`` is the playbook's raw mapping (its audience, holdout …)."""

    async def prepare(self, deps: Deps) -> int:
        """What fell due becomes WeCom tasks; how many rows were handled."""


ACTIONS: Registry[StepKind] = Registry("SOP step action")
S = TypeVar("S", bound=type)


def step_action(name: str) -> Callable[[S], S]:
    """Register a step action under ``name`` (the ``action`` of a playbook's step)."""

    def register(cls: S) -> S:
        if name in ACTIONS:  # its instance is new each time: refused by class
            raise ACTIONS.taken(name)
        ACTIONS.add(name, cls())
        return cls

    return register


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
