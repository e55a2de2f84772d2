"""Deterministic ids shaped like WeCom's: a counter for uniqueness, a seeded RNG for the look."""

from __future__ import annotations

import random
import string

__all__ = ["IdFactory"]

_ALPHABET = string.ascii_letters + string.digits
_COUNTER_WIDTH = 6  # 62**6 ids before the counter wraps: far beyond any simulation


class IdFactory:
    """Make ids such as ``wmAbc..``, ``etXyz..``; the same seed gives the same ids in the same order."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._counter = 0

    def next_number(self) -> int:
        self._counter += 1
        return self._counter

    def make(self, prefix: str, length: int = 22) -> str:
        """``prefix`` + random filler + a fixed-width base62 counter (which alone makes it unique)."""
        number = self.next_number()
        encoded = ""
        for _ in range(_COUNTER_WIDTH):
            number, digit = divmod(number, 62)
            encoded = _ALPHABET[digit] + encoded
        filler = "".join(self._rng.choices(_ALPHABET, k=max(0, length - _COUNTER_WIDTH)))
        return f"{prefix}{filler}{encoded}"

    def digits(self, length: int = 16) -> str:
        """A numeric id (MsgId-like), unique within this factory."""
        number = self.next_number()
        head = str(self._rng.randrange(1, 10))
        return head + str(number).zfill(length - 1)[-(length - 1) :]
