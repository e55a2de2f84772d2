"""What rule types share: ``RuleBase`` (the optional parts of a rule type, as defaults) and the
parameter checks (errors become RuleError with the parameter's name)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tagging.registry import QueryContext, RuleError


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
