"""``config/campaigns.yaml``: scheduled campaigns, each sent once when its time (in scrm_timezone) has come.

Checked as a whole when loaded (and reloaded with every other file): an unknown key, a bad time, an empty
audience or text raises ConfigError naming the file, the line and the campaign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.appconfig import ConfigKey
from bot.configfiles import ConfigError, Reader, load_yaml
from campaigns.audience import Audience
from campaigns.content import MAX_ATTACHMENTS, PLACEHOLDERS

__all__ = ["FILE_NAME", "Scheduled", "ScheduledCampaigns", "load"]

FILE_NAME = "campaigns.yaml"
_KEYS = frozenset({"name", "at", "tags", "stages", "store", "top_pct", "customers", "holdout", "text", "attachments",
                   "__line__"})


@dataclass(frozen=True, slots=True)
class Scheduled:
    name: str
    at: datetime  # naive: in scrm_timezone
    audience: Audience
    text: str
    attachments: tuple[str, ...] = ()
    holdout_pct: float | None = None


@dataclass(frozen=True, slots=True)
class ScheduledCampaigns:
    campaigns: tuple[Scheduled, ...] = ()


def _names(reader: Reader, node: Mapping[str, Any], key: str, label: str) -> tuple[str, ...]:
    value = node.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise reader.fail(node, f"{label}: {key} must be a list of names")
    return tuple(value)


def _campaign(reader: Reader, node: Any) -> Scheduled:
    if not isinstance(node, dict):
        raise reader.fail(node, "a campaign must be a mapping")
    name = node.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise reader.fail(node, "a campaign needs a name (at most 64 characters)")
    label = f"campaign {name}"
    unknown = set(node) - _KEYS
    if unknown:
        raise reader.fail(node, f"{label}: unknown key(s) {sorted(unknown)}")
    at = node.get("at")
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            raise reader.fail(node, f"{label}: at must be a time like 2026-03-20 10:00") from None
    if not isinstance(at, datetime):
        raise reader.fail(node, f"{label}: at must be a time like 2026-03-20 10:00")
    store = node.get("store") or ""
    if not isinstance(store, str):
        raise reader.fail(node, f"{label}: store must be a store code")
    audience = Audience(_names(reader, node, "tags", label), _names(reader, node, "stages", label), store,
                        reader.number(node, "top_pct", 0.0), _names(reader, node, "customers", label))
    if audience.empty:
        raise reader.fail(node, f"{label}: give an audience (tags, stages, store, top_pct or customers)")
    text = reader.text(node, "text", PLACEHOLDERS, label)
    attachments = _names(reader, node, "attachments", label)
    if len(attachments) > MAX_ATTACHMENTS:
        raise reader.fail(node, f"{label}: at most {MAX_ATTACHMENTS} attachments")
    holdout = node.get("holdout")
    holdout_pct = None if holdout is None else reader.number(node, "holdout", 10.0)
    if holdout_pct is not None and holdout_pct > 50:
        raise reader.fail(node, f"{label}: holdout is at most 50 (%)")
    return Scheduled(name, at.replace(tzinfo=None), audience, text, attachments, holdout_pct)


def load(config_dir: Path, loaded: Mapping[str, Any] | None = None) -> ScheduledCampaigns:
    path = config_dir / FILE_NAME
    if not path.exists():
        return ScheduledCampaigns()
    data = load_yaml(path) or {}
    reader = Reader(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    items = data.get("campaigns") or []
    if not isinstance(items, list):
        raise reader.fail(data, "campaigns must be a list")
    campaigns = tuple(_campaign(reader, item) for item in items)
    seen: set[str] = set()
    for item, campaign in zip(items, campaigns, strict=True):
        if campaign.name in seen:
            raise reader.fail(item, f"campaign {campaign.name}: the name is used twice")
        seen.add(campaign.name)
    library = loaded.get("sidebar") if loaded else None
    items_known = getattr(library, "items", None)
    if items_known is not None:
        for item, campaign in zip(items, campaigns, strict=True):
            missing = [a for a in campaign.attachments if a not in items_known]
            if missing:
                raise reader.fail(item, f"campaign {campaign.name}: {missing[0]} is not in the sidebar library")
    return ScheduledCampaigns(campaigns)


CAMPAIGNS = ConfigKey("campaigns", ScheduledCampaigns)  # deps.config[CAMPAIGNS]
