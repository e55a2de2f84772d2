"""Every operator-edited config file, loaded and cross-checked together before the app starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.customers.org import Org, load_org
from bot.leaderboard.config import LeaderboardConf, load_leaderboard
from bot.templates import Templates, load_templates
from leads.config import LeadsConfig, load_leads_config
from sop.playbooks import PlaybookStore, load_playbooks
from tagging.rules import RuleSet, load_rules

__all__ = ["AppConfig", "load_app_config"]


@dataclass(slots=True)
class AppConfig:
    """Loaded once at start; only ``tag_rules`` is swapped at run time (``重载标签规则``, tagging/reload.py)."""

    templates: Templates
    org: Org
    tag_rules: RuleSet
    leads: LeadsConfig
    leaderboard: LeaderboardConf
    sop: PlaybookStore  # the running playbooks; reloaded in place when config/sop/ changes
    tag_rules_version: str = ""  # digest of the tag_rules.yaml text in use


def load_app_config(config_dir: Path) -> AppConfig:
    """Load all of it or nothing: a ConfigError names the file, line and id at fault."""
    templates = load_templates(config_dir / "templates.yaml")
    org = load_org(config_dir / "org.yaml", templates)
    tag_rules = load_rules(config_dir / "tag_rules.yaml")
    leads = load_leads_config(config_dir / "leads.yaml")
    leaderboard = load_leaderboard(config_dir / "leaderboard.yaml")
    playbooks = load_playbooks(config_dir, templates, org)
    return AppConfig(
        templates=templates, org=org, tag_rules=tag_rules, leads=leads, leaderboard=leaderboard,
        sop=PlaybookStore(config_dir, templates, org, playbooks),
    )
