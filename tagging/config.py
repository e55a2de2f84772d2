"""Load config/tag_rules.yaml: groups (exclusive or not) and rules, each of a registered type.

All or nothing: the first problem raises a ConfigError naming the file, the line, the rule id and
what is wrong, and nothing of the file is used. The lifecycle rule's thresholds are read first:
they are the ones every feature shares (customers/lifecycle.py), handed to each rule type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.appconfig import ConfigKey
from bot.configfiles import ConfigError, Reader, line_of, load_yaml
from bot.feature import load_features
from bot.templates import Templates, load_templates
from customers.lifecycle import DEFAULT, Lifecycle, moved
from tagging.kinds.base import NO_TEXTS, RULE_TYPES, RuleError, RuleType
from tagging.kinds.lifecycle import NAME as LIFECYCLE_TYPE
from tagging.kinds.lifecycle import THRESHOLDS, thresholds

__all__ = ["TAG_RULES", "TagRule", "TagGroupConf", "RuleSet", "load", "load_rules", "Example"]

_RULE_KEYS = {"id", "description", "type", "group", "examples", "__line__"}


@dataclass(frozen=True, slots=True)
class TagGroupConf:
    name: str
    exclusive: bool


@dataclass(frozen=True, slots=True)
class Example:
    """A crafted customer and the tags the rule must give it (run in CI)."""

    given: Mapping[str, Any]
    expect: Sequence[str]


@dataclass(frozen=True, slots=True)
class TagRule:
    id: str
    description: str
    group: str
    kind: RuleType
    examples: Sequence[Example] = field(default_factory=tuple)
    line: str = "?"

    @property
    def type_name(self) -> str:
        return self.kind.name


@dataclass(frozen=True, slots=True)
class RuleSet:
    groups: Mapping[str, TagGroupConf]
    rules: Sequence[TagRule]
    source: str = ""
    lifecycle: Lifecycle = DEFAULT  # the lifecycle rule's thresholds (customers/lifecycle.py ``in_use``)
    templates: Templates = NO_TEXTS  # the sentences of tagging/report.py and the rules' ``explain``

    def rule(self, rule_id: str) -> TagRule:
        return next(r for r in self.rules if r.id == rule_id)

    def wanted_tags(self) -> dict[str, list[str]]:
        """Every (group → tag names) the rules can give: created in WeCom before they are used."""
        wanted: dict[str, list[str]] = {}
        for rule in self.rules:
            names = wanted.setdefault(rule.group, [])
            names.extend(t for t in rule.kind.tags if t not in names)
        return wanted


def load_rules(path: Path, templates: Templates | None = None) -> RuleSet:
    """``templates``: what the rules explain with; by default templates.yaml beside ``path``."""
    load_features()  # the rule types a rule may name
    if templates is None:
        templates = load_templates(path.with_name("templates.yaml"))
    reader = Reader(path)
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected `groups:` and `rules:`")
    groups: dict[str, TagGroupConf] = {}
    for item in data.get("groups") or []:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name or len(name) > 30:
            raise reader.fail(item, "a group needs a name of at most 30 characters")
        if name in groups:
            raise reader.fail(item, f"duplicate group {name!r}")
        groups[name] = TagGroupConf(name, bool(item.get("exclusive", False)))
    items = data.get("rules") or []
    lifecycle = _lifecycle(reader, items)
    rules: list[TagRule] = []
    seen: set[str] = set()
    for item in items:
        rules.append(_rule(reader, item, groups, seen, lifecycle, templates))
    if not rules:
        raise ConfigError(f"{path}: no rules")
    return RuleSet(groups, rules, str(path), lifecycle, templates)


def _lifecycle(reader: Reader, items: Sequence[Any]) -> Lifecycle:
    """The thresholds the lifecycle rule sets; with two such rules they must agree."""
    found: Lifecycle | None = None
    for item in items:
        if not isinstance(item, dict) or item.get("type") != LIFECYCLE_TYPE:
            continue
        try:
            value = thresholds(item)
        except RuleError as err:
            raise reader.fail(item, f"rule {item.get('id')!r}: {err}") from None
        if found is not None and value != found:
            raise reader.fail(item, f"rule {item.get('id')!r}: its thresholds disagree with the first lifecycle "
                                    "rule's: the lifecycle stages have one set of thresholds")
        found = value
    return found or DEFAULT


def _rule(
    reader: Reader, item: Any, groups: Mapping[str, TagGroupConf], seen: set[str], lifecycle: Lifecycle,
    templates: Templates,
) -> TagRule:
    if not isinstance(item, dict):
        raise ConfigError(f"{reader.path}: each rule must be a mapping")
    rule_id = item.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise reader.fail(item, "a rule needs an id")
    where = f"rule {rule_id!r}"
    if rule_id in seen:
        raise reader.fail(item, f"{where}: duplicate id")
    seen.add(rule_id)
    if not isinstance(item.get("description"), str) or not item["description"]:
        raise reader.fail(item, f"{where}: needs a description")
    type_name = str(item.get("type"))
    if type_name not in RULE_TYPES:
        raise reader.fail(item, f"{where}: {RULE_TYPES.unknown(type_name)}")
    group = item.get("group")
    if group not in groups:
        raise reader.fail(item, f"{where}: group {group!r} is not declared under groups:")
    params = {k: v for k, v in item.items() if k not in _RULE_KEYS}
    shared = [key for key in THRESHOLDS if key in params] if type_name != LIFECYCLE_TYPE else []
    if shared:
        # Once a prediction rule had its own dormant_days: one 沉睡 for every feature now.
        raise reader.fail(item, f"{where}: {moved(shared[0], lifecycle)}")
    try:
        kind = RULE_TYPES[type_name](params, lifecycle, templates)
    except RuleError as err:
        raise reader.fail(item, f"{where}: {err}") from None
    examples = _examples(reader, item, where, kind)
    return TagRule(rule_id, item["description"], str(group), kind, examples, line_of(item))


def _examples(reader: Reader, item: Mapping[str, Any], where: str, kind: RuleType) -> tuple[Example, ...]:
    examples = []
    for example in item.get("examples") or []:
        if not isinstance(example, dict) or not isinstance(example.get("expect"), list):
            raise reader.fail(item, f"{where}: {line_of(example)}: an example needs given: and expect: [tags]")
        unknown = set(example["expect"]) - set(kind.tags)
        if unknown:
            raise reader.fail(item, f"{where}: {line_of(example)}: example expects tags the rule never gives: "
                                    f"{unknown}")
        examples.append(Example(example.get("given") or {}, list(example["expect"])))
    if not examples:
        raise reader.fail(item, f"{where}: needs at least one example (they run in CI)")
    return tuple(examples)


def load(config_dir: Path, loaded: Mapping[str, Any]) -> RuleSet:
    """The feature's config loader (bot/feature.py): config/tag_rules.yaml."""
    return load_rules(config_dir / "tag_rules.yaml", loaded["templates"])


TAG_RULES = ConfigKey("tag_rules", RuleSet)  # deps.config[TAG_RULES]
