"""Prometheus metrics, in a registry the app owns (no process-global state)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

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
        # The queue as an operator watches it; set from Redis when /metrics is scraped (observe_queue).
        self.dead_letters = Gauge("scrm_dead_letters", "Events in the dead-letter stream", registry=self.registry)
        self.oldest_pending_age = Gauge(
            "scrm_oldest_pending_age_seconds",
            "Age of the oldest event waiting or in flight in the stream (0 when it is empty)",
            registry=self.registry,
        )
        self.stream_length = Gauge("scrm_events_in_stream", "Events waiting or in flight", registry=self.registry)
        self.retries_scheduled = Gauge("scrm_retries_scheduled", "Events waiting for a retry", registry=self.registry)
        # Shared budgets (SECURITY.md): WeCom calls our own per-API budget did not send, by lane;
        # sidebar requests refused by a rate limit, by limit (login per address, writes per guide).
        self.wecom_budget_refused = Counter(
            "scrm_wecom_budget_refused_total", "WeCom calls refused by the shared per-API budget", ["api", "lane"],
            registry=self.registry,
        )
        self.sidebar_refused = Counter(
            "scrm_sidebar_rate_limited_total", "Sidebar requests answered 429, by limit", ["limit"],
            registry=self.registry,
        )

    def observe_queue(self, *, dead: int, oldest_age_s: float, stream: int, retries: int) -> None:
        self.dead_letters.set(dead)
        self.oldest_pending_age.set(oldest_age_s)
        self.stream_length.set(stream)
        self.retries_scheduled.set(retries)

    def budget_refused(self, api: str, lane: str) -> None:
        self.wecom_budget_refused.labels(api=api, lane=lane).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
