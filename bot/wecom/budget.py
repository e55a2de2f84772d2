"""One budget per WeCom API, shared by every process: WeCom limits each API per corp (about
10,000 calls a minute, 150,000 an hour) and past that blocks it for the whole corp, so every call
the client makes draws from these counters in Redis before it is sent.

Two lanes share an API's budget. Background work (tag sync, sends, workers) is the default lane:
it waits a little for the next window, and past ``max_wait_s`` gets ``BudgetSpent`` (retryable:
the work stays pending). A person's request (the sidebar) runs ``with interactive():``: it never
waits, and it may take at most ``interactive_share_pct`` of each window, so one guide tapping
away cannot starve the nightly tag push (which always keeps the rest).

Refusals are logged (``wecom_budget_spent``, with the API, lane and window) and counted in the
metric ``scrm_wecom_budget_refused_total{api,lane}``.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import structlog
from redis.asyncio import Redis

from bot.wecom.errors import WeComRateLimited

if TYPE_CHECKING:
    from config.settings import Settings

__all__ = ["ApiBudgets", "BudgetSpent", "Lane", "Limit", "api_budgets", "interactive", "parse_budgets"]

log = structlog.get_logger(__name__)

Lane = Literal["background", "interactive"]
_lane: ContextVar[Lane] = ContextVar("wecom_budget_lane", default="background")
_WINDOWS = {"s": 1, "m": 60, "h": 3600}
_ENTRY = re.compile(r"^\s*([a-z0-9_/]+)\s*=\s*(\d+)\s*/\s*([smh])\s*$")

# Check every window first, then count in all of them: a refused call spends nothing.
# KEYS: per limit, its total and its interactive counter. ARGV: interactive (0/1), then per
# limit its cap, its interactive cap and the keys' TTL.
_SPEND = """
local interactive = ARGV[1] == '1'
local n = #KEYS / 2
for i = 1, n do
  local base = 1 + (i - 1) * 3
  if tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0') >= tonumber(ARGV[base + 1]) then return i end
  if interactive and tonumber(redis.call('GET', KEYS[2 * i]) or '0') >= tonumber(ARGV[base + 2]) then
    return i
  end
end
for i = 1, n do
  local ttl = tonumber(ARGV[1 + (i - 1) * 3 + 3])
  redis.call('INCR', KEYS[2 * i - 1])
  redis.call('EXPIRE', KEYS[2 * i - 1], ttl)
  if interactive then
    redis.call('INCR', KEYS[2 * i])
    redis.call('EXPIRE', KEYS[2 * i], ttl)
  end
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Limit:
    calls: int
    window_s: int

    def __str__(self) -> str:
        unit = {1: "s", 60: "m", 3600: "h"}.get(self.window_s)
        return f"{self.calls}/{unit}" if unit else f"{self.calls}/{self.window_s}s"


class BudgetSpent(WeComRateLimited):
    """Our own budget for this API is spent for now: the call was not sent (WeCom would block the
    corp). Retryable: background work stays pending; a person is told to slow down."""

    def __init__(self, api: str, lane: Lane, limit: Limit, retry_after_s: float) -> None:
        super().__init__(None, f"budget {limit} spent ({lane})", api)
        self.lane = lane
        self.limit = limit
        self.retry_after_s = retry_after_s


@contextmanager
def interactive() -> Iterator[None]:
    """WeCom calls made inside are a person's: they take the interactive share and never wait."""
    token = _lane.set("interactive")
    try:
        yield
    finally:
        _lane.reset(token)


def parse_budgets(text: str) -> dict[str, tuple[Limit, ...]]:
    """``"externalcontact/mark_tag=100/s, externalcontact/mark_tag=120000/h, message/send=3000/m"``."""
    budgets: dict[str, list[Limit]] = {}
    for entry in (part for part in text.split(",") if part.strip()):
        match = _ENTRY.match(entry)
        if not match or int(match[2]) < 1:
            raise ValueError(f"{entry.strip()!r} is not api=calls/window (window s, m or h; calls at least 1)")
        budgets.setdefault(match[1], []).append(Limit(int(match[2]), _WINDOWS[match[3]]))
    return {api: tuple(limits) for api, limits in budgets.items()}


class ApiBudgets:
    """The per-API limits (``limits``; any other API gets ``default``), counted in Redis."""

    def __init__(
        self,
        redis: Redis,
        key_prefix: str,
        limits: Mapping[str, tuple[Limit, ...]],
        *,
        default: tuple[Limit, ...] = (),
        interactive_share_pct: int = 20,
        max_wait_s: float = 5.0,
        on_refused: Callable[[str, Lane], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 1 <= interactive_share_pct <= 100:
            raise ValueError("the interactive share is 1 to 100 percent")
        self._key_prefix = key_prefix
        self._limits = dict(limits)
        self._default = default
        self.interactive_share_pct = interactive_share_pct
        self._max_wait_s = max_wait_s
        self._on_refused = on_refused
        self._clock = clock
        self._spend_script = redis.register_script(_SPEND)

    def limits_of(self, api: str) -> tuple[Limit, ...]:
        return self._limits.get(api, self._default)

    def interactive_cap(self, limit: Limit) -> int:
        return max(1, math.floor(limit.calls * self.interactive_share_pct / 100))

    async def spend(self, api: str) -> None:
        """Take one call of ``api`` from its budget; wait (background) or raise ``BudgetSpent``."""
        limits = self.limits_of(api)
        if not limits:
            return
        lane = _lane.get()
        while True:
            refused = await self._try(api, limits, lane)
            if refused is None:
                return
            wait = self._until_next(refused)
            if lane == "interactive" or wait > self._max_wait_s:
                log.warning("wecom_budget_spent", api=api, lane=lane, limit=str(refused),
                            retry_after_s=round(wait, 1))
                if self._on_refused is not None:
                    self._on_refused(api, lane)
                raise BudgetSpent(api, lane, refused, wait)
            await asyncio.sleep(wait)

    async def _try(self, api: str, limits: tuple[Limit, ...], lane: Lane) -> Limit | None:
        now = self._clock()
        keys: list[str] = []
        args: list[int] = [1 if lane == "interactive" else 0]
        for limit in limits:
            window = int(now // limit.window_s)
            total = f"{self._key_prefix}:{api}:{limit.window_s}:{window}"
            keys += [total, total + ":interactive"]
            args += [limit.calls, self.interactive_cap(limit), limit.window_s + 1]
        refused = int(await self._spend_script(keys=keys, args=args))
        return limits[refused - 1] if refused else None

    def _until_next(self, limit: Limit) -> float:
        now = self._clock()
        return (int(now // limit.window_s) + 1) * limit.window_s - now + 0.001


def api_budgets(redis: Redis, settings: Settings, on_refused: Callable[[str, Lane], None] | None = None) -> ApiBudgets:
    """The budgets the settings describe: ``SCRM_WECOM_API_PER_MINUTE`` for every API, mark_tag's
    ``SCRM_MARK_TAG_PER_SECOND`` / ``_PER_HOUR`` on top, and ``SCRM_WECOM_API_BUDGETS`` over both."""
    default = (Limit(settings.scrm_wecom_api_per_minute, 60),)
    limits = {
        "externalcontact/mark_tag": (
            Limit(settings.scrm_mark_tag_per_second, 1), *default, Limit(settings.scrm_mark_tag_per_hour, 3600),
        ),
    } | parse_budgets(settings.scrm_wecom_api_budgets)
    return ApiBudgets(
        redis, f"{{{settings.scrm_redis_prefix}}}:wecom:budget", limits, default=default,
        interactive_share_pct=settings.scrm_wecom_interactive_share_pct, on_refused=on_refused,
    )
