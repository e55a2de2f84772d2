"""Fault injection (errcodes, HTTP errors, latency) and per-API rate limits for the fake WeCom."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ANY_API", "Fault", "FaultInjector", "RateLimiter", "SlidingWindow"]

ANY_API = "*"
_MINUTE = 60.0


@dataclass
class Fault:
    """What to do to matching calls.

    ``count`` limits how many calls are hit; ``rate`` hits each call with that probability (seeded);
    with neither, every matching call is hit until ``clear()``.
    """

    api: str
    errcode: int | None = None
    http_status: int | None = None
    latency: float = 0.0
    count: int | None = None
    rate: float | None = None
    hits: int = 0

    def matches(self, api: str) -> bool:
        return self.api in (ANY_API, api)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.hits >= self.count

    def as_dict(self) -> dict[str, object]:
        return {
            "api": self.api,
            "errcode": self.errcode,
            "http_status": self.http_status,
            "latency": self.latency,
            "count": self.count,
            "rate": self.rate,
            "hits": self.hits,
        }


class FaultInjector:
    """Holds active faults; ``pick(api)`` says which one (if any) hits this call."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._faults: list[Fault] = []

    @property
    def active(self) -> list[Fault]:
        return [fault for fault in self._faults if not fault.exhausted]

    def inject(
        self,
        api: str = ANY_API,
        *,
        errcode: int | None = None,
        http_status: int | None = None,
        latency: float = 0.0,
        count: int | None = None,
        rate: float | None = None,
    ) -> Fault:
        """Make calls to ``api`` (a name like ``externalcontact/mark_tag``, or ``*``) misbehave."""
        if errcode is None and http_status is None and latency <= 0:
            raise ValueError("a fault needs an errcode, an http_status or a latency")
        if rate is not None and not 0.0 < rate <= 1.0:
            raise ValueError("rate must be in (0, 1]")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1")
        fault = Fault(api=api, errcode=errcode, http_status=http_status, latency=latency, count=count, rate=rate)
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def pick(self, api: str) -> Fault | None:
        """The first active fault that hits this call; counts the hit."""
        for fault in self._faults:
            if fault.exhausted or not fault.matches(api):
                continue
            if fault.rate is not None and self._rng.random() >= fault.rate:
                continue
            fault.hits += 1
            return fault
        return None


class SlidingWindow:
    """At most ``limit`` events in any ``window`` seconds of the given clock."""

    def __init__(self, limit: int, clock: Callable[[], float], window: float = _MINUTE) -> None:
        self.limit = limit
        self._clock = clock
        self._window = window
        self._times: deque[float] = deque()

    def try_acquire(self) -> bool:
        now = self._clock()
        while self._times and self._times[0] <= now - self._window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


class RateLimiter:
    """Per-key call limits (calls a minute, on the simulator clock); off until a limit is set."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._windows: dict[str, SlidingWindow] = {}

    @property
    def limits(self) -> dict[str, int]:
        return {key: window.limit for key, window in self._windows.items()}

    def set_limit(self, key: str, per_minute: int | None) -> None:
        """Limit ``key`` (an API name, or ``*`` for every API together) or lift it with ``None``."""
        if per_minute is None:
            self._windows.pop(key, None)
        else:
            self._windows[key] = SlidingWindow(per_minute, self._clock)

    def clear(self) -> None:
        self._windows.clear()

    def allow(self, key: str) -> bool:
        """Count one call; False (answer 45009) when a limit for ``key`` or ``*`` is exceeded."""
        windows = [self._windows[name] for name in (key, ANY_API) if name in self._windows]
        return all(window.try_acquire() for window in windows)
