"""config/acquisition.yaml: when add tasks are overdue and recycled, and the nearest-store pages (门店活码)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.appconfig import ConfigKey
from bot.configfiles import ConfigError, Reader, load_yaml

__all__ = ["AcquisitionConfig", "Campaign", "load", "load_acquisition"]


@dataclass(frozen=True, slots=True)
class Campaign:
    """One ``/s/<campaign>`` page: the nearest open store's code within ``radius_km``, else ``default``."""

    name: str
    title: str
    radius_km: float
    default: str  # the brand default code's state ("" : none; the page says so)


@dataclass(frozen=True, slots=True)
class AcquisitionConfig:
    acquire_due_days: float = 2.0  # an open task older than this is overdue
    acquire_recycle_days: float = 7.0  # … and older than this moves to another guide of the store
    acquire_max_recycles: int = 2  # moves at most this often, then it is parked
    digest_top: int = 5  # tasks listed per guide in the morning message and in 待办
    page_requests_per_minute: int = 30  # per address on the nearest-store pages
    campaigns: Mapping[str, Campaign] = field(default_factory=dict)


def load_acquisition(path: Path) -> AcquisitionConfig:
    if not path.exists():
        return AcquisitionConfig()
    reader = Reader(path)
    data = load_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping")
    due = reader.number(data, "acquire_due_days", 2.0, minimum=0.0, above=True)
    recycle = reader.number(data, "acquire_recycle_days", 7.0, minimum=0.0, above=True)
    max_recycles = reader.number(data, "acquire_max_recycles", 2, minimum=0)
    top = reader.number(data, "digest_top", 5, minimum=1)
    per_minute = reader.number(data, "page_requests_per_minute", 30, minimum=1)
    campaigns: dict[str, Campaign] = {}
    for name, item in reader.section(data, "campaigns").items():
        if name == "__line__":
            continue
        if not isinstance(item, dict):
            raise reader.fail(data, f"campaign {name!r} must be a mapping")
        if not str(name).isascii() or not str(name).replace("_", "").replace("-", "").isalnum():
            raise reader.fail(item, f"campaign {name!r}: use letters, digits, - and _ (it is the page's address)")
        campaigns[str(name)] = Campaign(
            str(name), str(item.get("title", "") or ""),
            reader.number(item, "radius_km", 10.0, minimum=0.0, above=True), str(item.get("default", "") or ""),
        )
    return AcquisitionConfig(due, recycle, int(max_recycles), int(top), int(per_minute), campaigns)


def load(config_dir: Path, loaded: Mapping[str, Any]) -> AcquisitionConfig:
    """The feature table's loader (bot/features.py); checked against org.yaml's channels."""
    conf = load_acquisition(config_dir / "acquisition.yaml")
    org = loaded.get("org")
    for campaign in conf.campaigns.values():
        if org is not None and campaign.default and campaign.default not in org.channels:
            raise ConfigError(f"{config_dir / 'acquisition.yaml'}: campaign {campaign.name!r}: default "
                              f"{campaign.default!r} is no channel state of org.yaml")
    return conf


ACQUISITION = ConfigKey("acquisition", AcquisitionConfig)  # deps.config[ACQUISITION]
