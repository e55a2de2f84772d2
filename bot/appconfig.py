"""Every operator-edited config file, loaded and cross-checked together: at start, and again as a
whole when one changes (bot/reload.py)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from acquisition.config import AcquisitionConfig
from boards.config import LeaderboardConf
from bot.features import FEATURES, resolve
from bot.templates import Templates
from campaigns.config import ScheduledCampaigns
from customers.config import Org
from groups.config import GroupsConfig
from leads.config import LeadsConfig
from sidebar.config import Library
from sop.config import PlaybookSet
from tagging.config import RuleSet

__all__ = ["AppConfig", "Loaded", "Watch", "config_signature", "load_app_config"]

Signature = tuple[tuple[str, int, int], ...]


def config_signature(config_dir: Path) -> Signature:
    """(file, mtime, size) of every data file below ``config_dir``: what a reload looks at."""
    out = []
    for path in sorted(config_dir.rglob("*")):
        if path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue  # config/settings.py is code, read once at start
        try:
            stat = path.stat()
        except OSError:  # removed while we looked: the next check sees the folder as it is
            continue
        if path.is_file():
            out.append((str(path.relative_to(config_dir)), stat.st_mtime_ns, stat.st_size))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Loaded:
    """What the running config was read from."""

    signature: Signature = ()
    digests: dict[str, str] = field(default_factory=dict)  # file → digest of its bytes

    @property
    def version(self) -> str:
        text = "\n".join(f"{name} {digest}" for name, digest in sorted(self.digests.items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(slots=True)
class Watch:
    """This process's reload state (bot/reload.py); kept when a new config is swapped in."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    failed: Signature = ()  # the files as they were when they last failed to load
    remote: str | None = None  # the last version another process announced
    announced: dict[str, str] = field(default_factory=dict)  # the files' digests at start or the last 重载配置


@dataclass(slots=True)
class AppConfig:
    """The running config; ``replace_with`` swaps all of it at once, so every reader of
    ``deps.config`` sees either the old files or the new ones, never a mix."""

    templates: Templates
    org: Org
    tag_rules: RuleSet
    leads: LeadsConfig
    leaderboard: LeaderboardConf
    sop: PlaybookSet
    sidebar: Library
    acquisition: AcquisitionConfig

    campaigns: ScheduledCampaigns

    groups: GroupsConfig
    loaded: Loaded = field(default_factory=Loaded)
    watch: Watch = field(default_factory=Watch)

    def replace_with(self, fresh: AppConfig) -> None:
        for item in fields(self):
            if item.name != "watch":
                setattr(self, item.name, getattr(fresh, item.name))


def _digests(config_dir: Path, signature: Signature) -> dict[str, str]:
    digests = {}
    for name, _, _ in signature:
        try:
            digests[name] = hashlib.sha256((config_dir / name).read_bytes()).hexdigest()[:16]
        except OSError:
            continue
    return digests


def load_app_config(config_dir: Path) -> AppConfig:
    """Load all of it or nothing: a ConfigError names the file, line and id at fault.

    Each feature's loaders come from the feature table (bot/features.py), in table order. The files
    are looked at first, so a file changed while loading makes the next check load again."""
    signature = config_signature(config_dir)
    loaded: dict[str, Any] = {}
    for feature in FEATURES:
        for attribute, loader in feature.config:
            loaded[attribute] = resolve(loader)(config_dir, loaded)
    digests = _digests(config_dir, signature)
    return AppConfig(**loaded, loaded=Loaded(signature, digests), watch=Watch(announced=digests))
