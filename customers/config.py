"""The organisation operators configure (config/org.yaml): stores, member roles, channel codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.appconfig import ConfigKey
from bot.configfiles import ConfigError, Reader, load_yaml
from bot.templates import Templates
from customers.models import Role

__all__ = ["ORG", "load", "Org", "StoreConf", "MemberConf", "ChannelConf", "load_org"]


@dataclass(frozen=True, slots=True)
class StoreConf:
    code: str
    name: str  # empty: WeCom's department name
    department: int | None = None  # the WeCom department that is this store (orgsync/)
    # Where it is (the nearest-store pages, acquisition/): WGS-84 degrees, the address customers read,
    # and the city and district a visitor who refuses their location picks from.
    lat: float | None = None
    lng: float | None = None
    address: str = ""
    city: str = ""
    district: str = ""


@dataclass(frozen=True, slots=True)
class MemberConf:
    userid: str
    name: str
    store: str | None
    role: Role


@dataclass(frozen=True, slots=True)
class ChannelConf:
    state: str
    name: str
    store: str | None
    guide: str | None
    campaign: str
    welcome: str


@dataclass(frozen=True, slots=True)
class Org:
    stores: Mapping[str, StoreConf]
    members: Mapping[str, MemberConf]
    channels: Mapping[str, ChannelConf]
    # The WeCom department (id or name) whose leaf departments are the stores (orgsync/); None: no sync.
    store_root: int | str | None = None

    @property
    def departments(self) -> dict[int, str]:
        """WeCom department id → store code, for the stores org.yaml ties to a department."""
        return {conf.department: conf.code for conf in self.stores.values() if conf.department is not None}


def _entries(reader: Reader, data: Mapping[str, Any], section: str) -> list[dict[str, Any]]:
    items = data.get(section) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ConfigError(f"{reader.path}: {section} must be a list of mappings")
    return items


def _text(reader: Reader, item: dict[str, Any], field: str, *, required: bool = True, limit: int = 64) -> str:
    value = item.get(field, "")
    if value is None:
        value = ""
    if not isinstance(value, str | int) or (required and not str(value)):
        raise reader.fail(item, f"{field} is required")
    if len(str(value)) > limit:
        raise reader.fail(item, f"{field} is longer than {limit} characters")
    return str(value)


def _stores(reader: Reader, data: Mapping[str, Any]) -> dict[str, StoreConf]:
    stores: dict[str, StoreConf] = {}
    departments: set[int] = set()
    for item in _entries(reader, data, "stores"):
        code = _text(reader, item, "code", limit=32)
        if code in stores:
            raise reader.fail(item, f"duplicate store {code!r}")
        department = item.get("department")
        if department is not None and (not isinstance(department, int) or isinstance(department, bool)):
            raise reader.fail(item, f"store {code!r}: department must be a WeCom department id")
        if department in departments:
            raise reader.fail(item, f"store {code!r}: department {department} is another store's")
        if department is not None:
            departments.add(department)
        lat, lng = _coordinate(reader, item, "lat", 90), _coordinate(reader, item, "lng", 180)
        if (lat is None) != (lng is None):
            raise reader.fail(item, f"store {code!r}: give both lat and lng, or neither")
        stores[code] = StoreConf(code, _text(reader, item, "name", required=department is None), department, lat, lng,
                                 _text(reader, item, "address", required=False, limit=128),
                                 _text(reader, item, "city", required=False, limit=32),
                                 _text(reader, item, "district", required=False, limit=32))
    return stores


def _coordinate(reader: Reader, item: dict[str, Any], field: str, bound: float) -> float | None:
    value = item.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
        raise reader.fail(item, f"{field} must be degrees between -{bound:g} and {bound:g}")
    return float(value)


def _members(reader: Reader, data: Mapping[str, Any], stores: Mapping[str, StoreConf]) -> dict[str, MemberConf]:
    members: dict[str, MemberConf] = {}
    for item in _entries(reader, data, "members"):
        userid = _text(reader, item, "userid")
        if userid in members:
            raise reader.fail(item, f"duplicate member {userid!r}")
        try:
            role = Role(item.get("role", "guide"))
        except ValueError:
            raise reader.fail(item, f"unknown role {item.get('role')!r}") from None
        name = _text(reader, item, "name", required=False)
        members[userid] = MemberConf(userid, name, _store_ref(reader, item, stores), role)
    return members


def _channels(
    reader: Reader, data: Mapping[str, Any], stores: Mapping[str, StoreConf], templates: Templates
) -> dict[str, ChannelConf]:
    channels: dict[str, ChannelConf] = {}
    for item in _entries(reader, data, "channels"):
        state = _text(reader, item, "state", limit=30)
        if state in channels:
            raise reader.fail(item, f"duplicate channel state {state!r}")
        welcome = _text(reader, item, "welcome", required=False) or "welcome_default"
        if welcome not in templates or templates.get(welcome).kind != "welcome":
            raise reader.fail(item, f"channel {state!r}: no welcome template {welcome!r}")
        guide = item.get("guide")
        channels[state] = ChannelConf(
            state,
            _text(reader, item, "name", required=False),
            _store_ref(reader, item, stores),
            str(guide) if guide else None,
            _text(reader, item, "campaign", required=False),
            welcome,
        )
    return channels


def _store_ref(reader: Reader, item: dict[str, Any], stores: Mapping[str, StoreConf]) -> str | None:
    ref = item.get("store")
    if ref is not None and ref not in stores:
        raise reader.fail(item, f"unknown store {ref!r}")
    return str(ref) if ref is not None else None


def load_org(path: Path, templates: Templates) -> Org:
    reader = Reader(path)
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected stores, members and channels")
    stores = _stores(reader, data)
    members = _members(reader, data, stores)
    channels = _channels(reader, data, stores, templates)
    store_root = data.get("store_root")
    if store_root is not None and (isinstance(store_root, bool) or not isinstance(store_root, int | str)):
        raise ConfigError(f"{path}: store_root must be a WeCom department id or name")
    return Org(stores, members, channels, store_root)


def load(config_dir: Path, loaded: Mapping[str, Any]) -> Org:
    """The feature's config loader (bot/feature.py): config/org.yaml, checked against the templates."""
    return load_org(config_dir / "org.yaml", loaded["templates"])


ORG = ConfigKey("org", Org)  # deps.config[ORG]
