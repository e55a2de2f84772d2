"""Every operator-edited config file, loaded and cross-checked together before the app starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.customers.org import Org, load_org
from bot.templates import Templates, load_templates
from sop.playbooks import PlaybookStore, load_playbooks
from tagging.rules import RuleSet, load_rules

__all__ = ["AppConfig", "load_app_config"]


@dataclass(frozen=True, slots=True)
class AppConfig:
    templates: Templates
    org: Org
    tag_rules: RuleSet
    sop: PlaybookStore  # the running playbooks; reloaded in place when config/sop/ changes


def load_app_config(config_dir: Path) -> AppConfig:
    """Load all of it or nothing: a ConfigError names the file, line and id at fault."""
    templates = load_templates(config_dir / "templates.yaml")
    org = load_org(config_dir / "org.yaml", templates)
    tag_rules = load_rules(config_dir / "tag_rules.yaml")
    playbooks = load_playbooks(config_dir, templates, org)
    return AppConfig(templates=templates, org=org, tag_rules=tag_rules,
                     sop=PlaybookStore(config_dir, templates, org, playbooks))
