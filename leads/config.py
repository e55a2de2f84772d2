"""config/leads.yaml: weights, delivery limits, routing, patterns and the texts guides read.

Loaded and checked at start, all or nothing: a ConfigError names the file, the line and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.appconfig import ConfigKey
from bot.configfiles import ConfigError, Reader, load_yaml
from bot.registry import UnknownName
from customers.lifecycle import DEFAULT, Lifecycle, in_use, moved
from leads.kinds import PatternSpec, pattern_spec

__all__ = ["LEADS", "LeadsConfig", "PatternConf", "Delivery", "load", "load_leads_config"]

# The placeholders each text may use.
_TEXT_VARS: dict[str, frozenset[str]] = {
    "activity.dormant": frozenset({"dormant_days"}),
    "activity.browse": frozenset({"product", "browse_count"}),
    "activity.cart": frozenset({"cart_amount", "product"}),
    "activity.checkout": frozenset(),
    "activity.coupon": frozenset({"coupon_hours"}),
    "activity.link": frozenset(),
    "card.title": frozenset({"pattern_title", "customer_name"}),
    "digest.title": frozenset({"count"}),
    "digest.line": frozenset({"customer_name", "reason"}),
    "digest.list_header": frozenset({"count"}),
    "chat.none": frozenset({"scope"}),
    "chat.header": frozenset({"scope", "count"}),
    "chat.line": frozenset({"customer_name", "pattern_title", "reason", "time", "status"}),
    "chat.more": frozenset({"count"}),
    "chat.profile": frozenset({"reason", "status"}),
}
_SCRIPT_VARS = frozenset({"customer_name", "product", "guide_name", "remark"})
_PLAIN_TEXTS = (
    "card.source", "card.remark", "card.tags", "card.last_purchase", "card.never_bought", "card.script",
    "card.reminder_prefix", "card.product_unknown", "card.customer_unnamed", "buttons.contacted", "buttons.snooze",
    "buttons.dismiss", "replies.contacted", "replies.snooze", "replies.dismiss", "digest.desc", "digest.button",
    "chat.scope_mine", "chat.scope_store", "status.held", "status.sent", "status.folded", "status.snoozed",
)
ROUTING_POLICIES = ("most_recent", "earliest")


@dataclass(frozen=True, slots=True)
class PatternConf:
    spec: PatternSpec
    priority: int
    title: str
    script: str
    params: Mapping[str, float]

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class Delivery:
    per_hour: int
    per_day: int
    cooldown_hours: float
    score_jump: float
    snooze_hours: float
    digest_gather_minutes: float
    digest_every_minutes: float


@dataclass(frozen=True, slots=True)
class LeadsConfig:
    half_life_hours: float
    lookback_days: float
    weights: Mapping[str, float]
    delivery: Delivery
    attribution_days: float
    routing_default: str
    routing_stores: Mapping[str, str]
    pools: Mapping[str, str]
    patterns: Mapping[str, PatternConf]  # highest priority first
    texts: Mapping[str, str]  # "card.title" → text

    def text(self, name: str, **values: Any) -> str:
        return self.texts[name].format_map(values) if values else self.texts[name]

    def routing_for(self, store_code: str) -> str:
        return self.routing_stores.get(store_code, self.routing_default)


def load_leads_config(path: Path, lifecycle: Lifecycle = DEFAULT) -> LeadsConfig:
    reader = Reader(path)
    root = load_yaml(path)
    if not isinstance(root, dict):
        raise ConfigError(f"{path}: expected a mapping")

    scoring = reader.section(root, "scoring")
    weights_node = reader.section(scoring, "weights")
    weights = {str(k): reader.number(weights_node, k, 0.0, minimum=-1e9) for k in weights_node if k != "__line__"}

    node = reader.section(root, "delivery")
    if "quiet_hours" in node:
        # One window for every message to guides, so lead cards and SOP digests cannot disagree.
        raise reader.fail(node, "quiet_hours moved to the SCRM_QUIET_HOURS setting (one window for leads and SOP)")
    delivery = Delivery(
        per_hour=int(reader.number(node, "per_hour", 6, minimum=1)),
        per_day=int(reader.number(node, "per_day", 30, minimum=1)),
        cooldown_hours=reader.number(node, "cooldown_hours", 24),
        score_jump=reader.number(node, "score_jump", 2.0, minimum=1.0),
        snooze_hours=reader.number(node, "snooze_hours", 2, minimum=0, above=True),
        digest_gather_minutes=reader.number(node, "digest_gather_minutes", 10),
        digest_every_minutes=reader.number(node, "digest_every_minutes", 60),
    )

    routing = reader.section(root, "routing")
    default_policy = routing.get("default", "most_recent")
    stores = {k: v for k, v in reader.section(routing, "stores").items() if k != "__line__"}
    for policy in (default_policy, *stores.values()):
        if policy not in ROUTING_POLICIES:
            raise reader.fail(routing, f"routing policy {policy!r}: use one of {', '.join(ROUTING_POLICIES)}")
    pools = {str(k): str(v) for k, v in reader.section(routing, "pools").items() if k != "__line__"}

    patterns_node = reader.section(root, "patterns")
    patterns: dict[str, PatternConf] = {}
    for name, entry in patterns_node.items():
        if name == "__line__":
            continue
        try:
            spec = pattern_spec(name)
        except UnknownName as err:
            raise reader.fail(patterns_node, str(err)) from None
        if not isinstance(entry, dict):
            raise reader.fail(patterns_node, f"pattern {name}: expected a mapping")
        params_node = reader.section(entry, "params")
        unknown = set(params_node) - set(spec.params) - {"__line__"}
        if unknown:
            known = sorted(spec.params)
            raise reader.fail(params_node, f"pattern {name}: unknown params {sorted(unknown)} (known: {known})")
        params = _params(reader, params_node, spec, lifecycle)
        patterns[name] = PatternConf(
            spec=spec,
            priority=int(reader.number(entry, "priority", 0, minimum=-1e6)),
            title=reader.text(entry, "title", frozenset(), f"pattern {name}: title"),
            script=reader.text(entry, "script", _SCRIPT_VARS, f"pattern {name}: script"),
            params=params,
        )

    texts_root = reader.section(root, "texts")
    texts: dict[str, str] = {}
    for dotted in (*_TEXT_VARS, *_PLAIN_TEXTS):
        section_name, _, key = dotted.partition(".")
        section = reader.section(texts_root, section_name)
        texts[dotted] = reader.text(section, key, _TEXT_VARS.get(dotted, frozenset()), f"texts.{dotted}")

    return LeadsConfig(
        half_life_hours=reader.number(scoring, "half_life_hours", 48, above=True),
        lookback_days=reader.number(scoring, "lookback_days", 30, above=True),
        weights=weights,
        delivery=delivery,
        attribution_days=reader.number(root, "attribution_days", 7, above=True),
        routing_default=str(default_policy),
        routing_stores={str(k): str(v) for k, v in stores.items()},
        pools=pools,
        patterns=dict(sorted(patterns.items(), key=lambda item: -item[1].priority)),
        texts=texts,
    )


def _params(reader: Reader, node: Mapping[str, Any], spec: PatternSpec, lifecycle: Lifecycle) -> dict[str, float]:
    """A pattern's params; ``dormant_days`` is the lifecycle's 沉睡 threshold (customers/lifecycle.py),
    one for every feature: set on the lifecycle rule in tag_rules.yaml, refused here."""
    if "dormant_days" in node:
        raise reader.fail(node, f"pattern {spec.name}: {moved('dormant_days', lifecycle)}")
    params = {p: reader.number(node, p, default) for p, default in spec.params.items()}
    if "dormant_days" in params:
        params["dormant_days"] = lifecycle.dormant_days
    return params


def load(config_dir: Path, loaded: Mapping[str, Any]) -> LeadsConfig:
    """The feature's config loader (bot/feature.py): config/leads.yaml."""
    return load_leads_config(config_dir / "leads.yaml", in_use(loaded.get("tag_rules")))


LEADS = ConfigKey("leads", LeadsConfig)  # deps.config[LEADS]
