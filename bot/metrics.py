"""Prometheus metrics, in a registry the app owns (no process-global state)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, generate_latest

__all__ = ["Metrics"]


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.callbacks = Counter(
            "scrm_callbacks_total", "WeCom callbacks by outcome", ["outcome"], registry=self.registry
        )
        # Labelled once: the callback path should not pay the label lookup per request.
        self.accepted = self.callbacks.labels(outcome="accepted")
        self.duplicates = self.callbacks.labels(outcome="duplicate")

    def render(self) -> bytes:
        return generate_latest(self.registry)
