"""Every operator-edited config file, loaded and cross-checked together before the app starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boards.config import LeaderboardConf
from bot.features import FEATURES, resolve
from bot.templates import Templates
from customers.config import Org
from leads.config import LeadsConfig
from sop.config import PlaybookStore
from tagging.config import RuleSet

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
    """Load all of it or nothing: a ConfigError names the file, line and id at fault.

    Each feature's loaders come from the feature table (bot/features.py), in table order."""
    loaded: dict[str, Any] = {}
    for feature in FEATURES:
        for attribute, loader in feature.config:
            loaded[attribute] = resolve(loader)(config_dir, loaded)
    return AppConfig(**loaded)
