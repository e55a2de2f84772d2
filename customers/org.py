"""The organisation operators configure (config/org.yaml): stores, member roles, channel codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from bot.configfiles import ConfigError, line_of, load_yaml
from bot.templates import Templates
from customers.models import ChannelCode, Guide, Role, Store

__all__ = [
    "load", "Org", "StoreConf", "MemberConf", "ChannelConf", "load_org", "apply_org", "ROLE_FROM_CHAT", "ROLE_FROM_ORG",
]

log = structlog.get_logger(__name__)

# Guide.role_source: who decided a member's role. A role set in chat is never overwritten by org.yaml.
ROLE_FROM_ORG = "org"
ROLE_FROM_CHAT = "chat"


@dataclass(frozen=True, slots=True)
class StoreConf:
    code: str
    name: str  # empty: WeCom's department name
    department: int | None = None  # the WeCom department that is this store (orgsync/)


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


def _entries(path: Path, data: Mapping[str, Any], section: str) -> list[dict[str, Any]]:
    items = data.get(section) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ConfigError(f"{path}: {section} must be a list of mappings")
    return items


def _text(path: Path, item: dict[str, Any], field: str, *, required: bool = True, limit: int = 64) -> str:
    value = item.get(field, "")
    if value is None:
        value = ""
    if not isinstance(value, str | int) or (required and not str(value)):
        raise ConfigError(f"{path}: {line_of(item)}: {field} is required")
    if len(str(value)) > limit:
        raise ConfigError(f"{path}: {line_of(item)}: {field} is longer than {limit} characters")
    return str(value)


def _stores(path: Path, data: Mapping[str, Any]) -> dict[str, StoreConf]:
    stores: dict[str, StoreConf] = {}
    departments: set[int] = set()
    for item in _entries(path, data, "stores"):
        code = _text(path, item, "code", limit=32)
        if code in stores:
            raise ConfigError(f"{path}: {line_of(item)}: duplicate store {code!r}")
        department = item.get("department")
        if department is not None and (not isinstance(department, int) or isinstance(department, bool)):
            raise ConfigError(f"{path}: {line_of(item)}: store {code!r}: department must be a WeCom department id")
        if department in departments:
            raise ConfigError(f"{path}: {line_of(item)}: store {code!r}: department {department} is another store's")
        if department is not None:
            departments.add(department)
        stores[code] = StoreConf(code, _text(path, item, "name", required=department is None), department)
    return stores


def load_org(path: Path, templates: Templates) -> Org:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected stores, members and channels")
    stores = _stores(path, data)

    def store_ref(item: dict[str, Any]) -> str | None:
        ref = item.get("store")
        if ref is not None and ref not in stores:
            raise ConfigError(f"{path}: {line_of(item)}: unknown store {ref!r}")
        return str(ref) if ref is not None else None

    members: dict[str, MemberConf] = {}
    for item in _entries(path, data, "members"):
        userid = _text(path, item, "userid")
        if userid in members:
            raise ConfigError(f"{path}: {line_of(item)}: duplicate member {userid!r}")
        try:
            role = Role(item.get("role", "guide"))
        except ValueError:
            raise ConfigError(f"{path}: {line_of(item)}: unknown role {item.get('role')!r}") from None
        members[userid] = MemberConf(userid, _text(path, item, "name", required=False), store_ref(item), role)

    channels: dict[str, ChannelConf] = {}
    for item in _entries(path, data, "channels"):
        state = _text(path, item, "state", limit=30)
        if state in channels:
            raise ConfigError(f"{path}: {line_of(item)}: duplicate channel state {state!r}")
        welcome = _text(path, item, "welcome", required=False) or "welcome_default"
        if welcome not in templates or templates.get(welcome).kind != "welcome":
            raise ConfigError(f"{path}: {line_of(item)}: channel {state!r}: no welcome template {welcome!r}")
        guide = item.get("guide")
        channels[state] = ChannelConf(
            state,
            _text(path, item, "name", required=False),
            store_ref(item),
            str(guide) if guide else None,
            _text(path, item, "campaign", required=False),
            welcome,
        )
    store_root = data.get("store_root")
    if store_root is not None and (isinstance(store_root, bool) or not isinstance(store_root, int | str)):
        raise ConfigError(f"{path}: store_root must be a WeCom department id or name")
    return Org(stores, members, channels, store_root)


async def apply_org(org: Org) -> None:
    """Upsert the configured stores, member roles and channel codes into the database."""
    store_ids: dict[str, int] = {}
    for conf in org.stores.values():
        if conf.name:
            store, _ = await Store.update_or_create(code=conf.code, defaults={"name": conf.name})
        else:  # named by the address book (orgsync/)
            store, _ = await Store.get_or_create(code=conf.code, defaults={"name": conf.code})
        store_ids[conf.code] = store.id
    for member in org.members.values():
        defaults: dict[str, Any] = {"store_id": store_ids.get(member.store or "")}
        if member.name:
            defaults["name"] = member.name
        known = await Guide.get_or_none(userid=member.userid)
        if known is None:
            await Guide.create(userid=member.userid, role=member.role, role_source=ROLE_FROM_ORG, **defaults)
            continue
        if known.role_source == ROLE_FROM_CHAT:
            # An admin set this role in chat since: that is the newer decision, and it stays.
            if known.role != member.role:
                log.info("org_role_kept_from_chat", userid=member.userid, role=known.role.value,
                         org_yaml_role=member.role.value)
        else:
            defaults |= {"role": member.role, "role_source": ROLE_FROM_ORG}
        await Guide.filter(id=known.id).update(**defaults)
    for channel in org.channels.values():
        await ChannelCode.update_or_create(
            state=channel.state,
            defaults={
                "name": channel.name,
                "store_id": store_ids.get(channel.store or ""),
                "guide_userid": channel.guide,
                "campaign": channel.campaign,
                "welcome_template": channel.welcome,
            },
        )


def load(config_dir: Path, loaded: Mapping[str, Any]) -> Org:
    """The feature table's loader (bot/features.py): config/org.yaml, checked against the templates."""
    return load_org(config_dir / "org.yaml", loaded["templates"])
