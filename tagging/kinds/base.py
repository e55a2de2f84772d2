"""Rule types: one registered class each (``@rule_type("behaviour")``); the loader refuses unknown ones.

A rule type turns a rule's parameters into one SQL SELECT that yields, for the customers it
matches, ``(customer_id, tag_name, evidence_json)``. The same SELECT serves the nightly full
re-tag (all customers, set-based) and the event-driven re-tag of one customer (a filter), so
there is one implementation per type to get right.

Also here: ``RuleBase`` (the optional parts of a rule type, as defaults) and the parameter checks
(errors become RuleError with the parameter's name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar

from bot.registry import Registry
from bot.sqldialect import Dialect, SqlParams, ids_filter
from bot.templates import Templates
from customers.lifecycle import Lifecycle

__all__ = ["RuleType", "RULE_TYPES", "rule_type", "QueryContext", "RuleError", "RuleBase", "NO_TEXTS", "number",
           "text", "texts"]

# What a rule built outside the loader (a test of its SQL alone) explains with: nothing.
NO_TEXTS = Templates({})


class RuleError(ValueError):
    """A rule's parameters are wrong; the loader adds the file, line and rule id."""


@dataclass(frozen=True, slots=True)
class QueryContext:
    dialect: Dialect
    now: datetime
    # Restricts ``customer.id`` (as ``{column}``) to the customers being re-tagged; None = all.
    # Ids are our own integers, inlined (not parameters).
    customer_ids: Sequence[int] | None
    # Values computed once per run and shared by rules (e.g. RFM quantile thresholds).
    run_values: dict[str, Any]

    def scope(self, column: str) -> str:
        return ids_filter(column, self.customer_ids)


class RuleType(Protocol):
    name: ClassVar[str]

    def __init__(self, params: Mapping[str, Any], lifecycle: Lifecycle, templates: Templates) -> None:
        """``params``: the rule's own keys in tag_rules.yaml; ``lifecycle``: the stage thresholds
        every feature shares (customers/lifecycle.py), for types that need them (沉睡);
        ``templates``: config/templates.yaml, the sentences ``explain`` renders."""
        ...

    @property
    def tags(self) -> Sequence[str]:
        """Every tag name this rule can give (created in WeCom up front)."""
        ...

    async def prepare(self, ctx: QueryContext) -> None:
        """Compute run-wide values (optional: ``RuleBase`` does nothing here)."""
        ...

    def select(self, ctx: QueryContext, params: SqlParams) -> str:
        """SQL yielding (customer_id, tag_name, evidence_json) for matching customers; its values
        bound through ``params`` (each ``params.add(value)`` is the placeholder)."""
        ...

    def explain(self, tag: str, evidence: Mapping[str, Any]) -> str:
        """The sentence an operator reads (a ``tag_why`` template): why this customer has ``tag``."""
        ...


RULE_TYPES: Registry[type[RuleType]] = Registry("tag rule type")
T = TypeVar("T", bound=type[Any])


def rule_type(name: str) -> Callable[[T], T]:
    def register(cls: T) -> T:
        cls.name = name
        RULE_TYPES.add(name, cls)
        return cls

    return register


class RuleBase:
    """Defaults for a rule type's optional methods; a type overrides what it needs."""

    __slots__ = ()

    async def prepare(self, ctx: QueryContext) -> None:
        """No run-wide values to compute (``rfm`` overrides this to rank once per run)."""
        return


def text(params: Mapping[str, Any], name: str, *, limit: int = 30) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{name} must be a non-empty text")
    if len(value) > limit:
        raise RuleError(f"{name} is longer than {limit} characters (WeCom's limit for tag names)")
    return value


def number(params: Mapping[str, Any], name: str, default: float | None = None, *, minimum: float = 0) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{name} must be a number")
    if value < minimum:
        raise RuleError(f"{name} must be at least {minimum}")
    return float(value)


def texts(params: Mapping[str, Any], name: str, *, allowed: set[str] | None = None) -> list[str]:
    value = params.get(name)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise RuleError(f"{name} must be a non-empty list of texts")
    if allowed is not None and not set(value) <= allowed:
        raise RuleError(f"{name}: unknown {sorted(set(value) - allowed)}; allowed: {sorted(allowed)}")
    return list(value)
