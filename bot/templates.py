"""Message templates (config/templates.yaml): Chinese text an operator edits, placeholders checked at load."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.configfiles import ConfigError, line_of, load_yaml, plain_fields
from bot.feature import features, resolve

__all__ = ["Templates", "TEMPLATE_KINDS", "load", "load_templates", "plain_fields", "require"]

# The variables each kind of message may use. A new kind is one entry here.
TEMPLATE_KINDS: dict[str, frozenset[str]] = {
    "welcome": frozenset({"customer_name", "guide_name", "store_name", "campaign"}),
    "churn_alert": frozenset({"customer_name", "guide_name", "days_as_contact", "last_purchase", "channel"}),
    # Answers to chat commands (one kind: the values each command passes are listed beside its template).
    "command": frozenset({
        "command", "role", "roles", "lines", "name", "count", "detail", "job", "moved", "waiting", "failed",
        "giver", "taker", "robot", "seconds", "desired", "pending", "contacts", "members", "records", "store",
    }),
    "leaderboard": frozenset({"period", "dates", "metric", "store"}),
    # One line of a board (boards/report.py, boards/chat.py): a rank, a store's metric, a PK score.
    "board_line": frozenset({"rank", "total", "metric", "value", "previous", "change", "name", "score"}),
    # The 客户 profile's lines (customers/chat.py).
    "customer_profile": frozenset({"customer_name", "external_userid", "guide_name", "channel", "date", "status",
                                   "count", "amount"}),
    # The address book (orgsync/): a deleted member's customers await a hand-over.
    "org_notice": frozenset({"name", "userid", "customers", "taker", "command"}),
    # SOP: the text a step suggests to the guide, and what guides and managers read about their tasks.
    "sop_step": frozenset({"customer_name", "guide_name", "store_name", "product_name", "holiday", "coupon"}),
    "sop_notice": frozenset({"guide_name", "store_name", "count", "date", "items", "task_id", "customer_name",
                             "reason", "text", "due", "name", "playbooks", "action", "state", "trigger", "holdout",
                             "days"}),
    # One customer's purchase prediction (predict/chat.py): the 客户 profile, the demo.
    "prediction": frozenset({"p_buy_90", "p_buy_30", "rank", "purchases_90", "spend_90", "p_alive", "next_date",
                             "method", "why"}),
    # The words of a prediction (predict/config.py lists the ids): why, the methods, HQ's chart and report.
    "prediction_text": frozenset({"days", "count", "amount", "word", "items", "date", "number", "brier", "change",
                                  "reason", "share"}),
    # Why a customer has a tag (tagging/report.py and each rule type's ``explain``): 客户, 为什么, the sidebar.
    "tag_why": frozenset({"tag", "why", "rule", "description", "customer_name", "external_userid", "group", "guide",
                          "days", "threshold", "orders", "cycle", "factor", "count", "window", "signals", "target",
                          "keywords", "state", "p90", "rank", "share", "alive_peak", "alive", "recency", "frequency",
                          "monetary"}),
    # The churn alert's pieces (customers/delivery.py).
    "churn_alert_part": frozenset({"date", "count", "amount"}),
    # A channel code's name and its report line (channels/).
    "channel": frozenset({"name", "state", "store", "adds", "losses", "net_adds", "lost_7d", "lost_share",
                          "bought_30d", "sales"}),
    # Member acquisition (acquisition/): add tasks, the greeting, the store line, links, the nearest-store page.
    "acquisition": frozenset({"task_id", "name", "phone", "bought", "count", "items", "greeting", "date",
                              "store_name", "guide_name", "assigned", "added", "open", "overdue", "distance"}),

    # Campaigns and moments (campaigns/): what operators, guides and store managers read about pushes.
    "campaign": frozenset({"name", "guide_name", "store_name", "count", "items", "userid", "reason", "lines",
                           "customers", "published", "tasks", "rate", "date", "text", "guides", "holdout", "capped",
                           "previous"}),

    # Customer groups (groups/): a code's name, what the owner is told, the report's and the daily line's words.
    "group": frozenset({"name", "store", "code", "state", "count", "members", "full_at", "text", "welcome", "owner",
                        "date", "joins", "groups", "sent", "lines", "detail", "pushes", "rate", "total"}),
}


@dataclass(frozen=True, slots=True)
class Template:
    id: str
    kind: str
    text: str

    def render(self, values: Mapping[str, Any]) -> str:
        return self.text.format_map({name: values.get(name, "") for name in TEMPLATE_KINDS[self.kind]})


@dataclass(frozen=True, slots=True)
class Templates:
    by_id: Mapping[str, Template]

    def get(self, template_id: str) -> Template:
        return self.by_id[template_id]

    def render(self, template_id: str, **values: Any) -> str:
        return self.by_id[template_id].render(values)

    def __contains__(self, template_id: object) -> bool:
        return template_id in self.by_id


def load_templates(path: Path) -> Templates:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of template id → {{kind, text}}")
    templates: dict[str, Template] = {}
    for template_id, entry in data.items():
        if template_id == "__line__":
            continue
        where = f"{path}: {line_of(entry)}: template {template_id!r}"
        if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
            raise ConfigError(f"{where}: needs a text")
        kind = entry.get("kind")
        if kind not in TEMPLATE_KINDS:
            raise ConfigError(f"{where}: unknown kind {kind!r} (known: {', '.join(sorted(TEMPLATE_KINDS))})")
        try:
            used = plain_fields(entry["text"])
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from None
        unknown = used - TEMPLATE_KINDS[kind]
        if unknown:
            raise ConfigError(
                f"{where}: unknown placeholder(s) {sorted(unknown)}; {kind} may use {sorted(TEMPLATE_KINDS[kind])}"
            )
        templates[template_id] = Template(template_id, kind, entry["text"])
    return Templates(templates)


def require(templates: Templates, path: Path) -> None:
    """Every template id a feature renders (its ``templates`` slot, bot/feature.py) is in the file:
    a missing one stops the start (or the reload) here, naming it, not the first message that needs it."""
    for feature in features():
        for name in feature.templates:
            ids = resolve(name)  # a tuple of ids, or a mapping id → the kind it must be
            missing = [template_id for template_id in ids if template_id not in templates]
            if missing:
                raise ConfigError(f"{path}: template(s) {', '.join(missing)} missing (the {feature.name} "
                                  f"feature renders them: {name})")
            if isinstance(ids, Mapping):
                wrong = [f"{i} (must be {kind})" for i, kind in ids.items() if templates.get(i).kind != kind]
                if wrong:
                    raise ConfigError(f"{path}: template(s) of the wrong kind: {', '.join(wrong)} ({name})")


def load(config_dir: Path, loaded: Mapping[str, Any]) -> Templates:
    """config/templates.yaml, with every id a feature uses: loaded first, by the engine (bot/appconfig.py)."""
    path = config_dir / "templates.yaml"
    templates = load_templates(path)
    require(templates, path)
    return templates
