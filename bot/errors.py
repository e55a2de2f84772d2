"""Error kinds the worker tells apart."""

from __future__ import annotations


class PermanentFailure(Exception):
    """Retrying cannot help (bad data, a permission WeCom refuses): dead-letter at once."""


class RetryLater(Exception):
    """Someone else is on it (another worker holds the send claim): run the event again in
    ``defer_s`` seconds. The worker defers without spending an attempt, as arq's ``Retry(defer=…)``."""

    def __init__(self, reason: str, defer_s: float = 1.0) -> None:
        super().__init__(reason)
        self.defer_s = max(0.0, defer_s)
