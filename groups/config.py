"""config/groups.yaml: the full mark, the group codes beyond the stores', the group welcomes and the
group playbooks, checked as a whole (``ConfigError`` names file and line) and reloaded with the others."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any

from bot.appconfig import ConfigKey
from bot.configfiles import ConfigError, Reader, load_yaml
from groups.kinds import TRIGGERS, known_triggers

__all__ = ["CodeConf", "GroupStep", "GroupPlaybook", "GroupTarget", "GroupsConfig", "WelcomeConf", "load",
           "load_groups"]

FILE_NAME = "groups.yaml"
WECOM_SCAN_FULL = 200  # WeCom stops scan joins at 200 members
TEXT_PLACEHOLDERS = frozenset({"store", "code"})
MODES = ("mass", "task")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_STATE_MAX = 30


@dataclass(frozen=True, slots=True)
class CodeConf:
    """A campaign group code of the file (a store's own code needs no entry)."""

    name: str
    store: str
    owner: str = ""  # empty: the store's manager
    campaign: str = ""
    welcome: str = ""


@dataclass(frozen=True, slots=True)
class WelcomeConf:
    id: str
    text: str  # {store} and {code} are filled per store when the template is made in WeCom
    attachment: str = ""  # a sidebar library item (image, link or mini-program)
    stores: tuple[str, ...] = ()  # empty: every store without a more particular welcome
    codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupTarget:
    stores: tuple[str, ...] = ()  # the groups of these stores' codes and of their members
    codes: tuple[str, ...] = ()  # the groups of these codes (by name)

    @property
    def everything(self) -> bool:
        return not (self.stores or self.codes)


@dataclass(frozen=True, slots=True)
class GroupStep:
    id: str
    day: int
    at: time
    mode: str
    text: str
    attachment: str = ""


@dataclass(frozen=True, slots=True)
class GroupPlaybook:
    id: str
    name: str
    target: GroupTarget
    trigger_type: str
    trigger_params: Any
    steps: tuple[GroupStep, ...]


@dataclass(frozen=True, slots=True)
class GroupsConfig:
    group_full_at: int = 190
    store_codes: bool = True
    room_base_name: str = "{store}会员群"
    codes: tuple[CodeConf, ...] = ()
    welcomes: tuple[WelcomeConf, ...] = ()
    playbooks: tuple[GroupPlaybook, ...] = ()

    def welcome(self, key: str) -> WelcomeConf | None:
        return next((w for w in self.welcomes if w.id == key), None)

    def playbook(self, key: str) -> GroupPlaybook | None:
        return next((p for p in self.playbooks if key in (p.id, p.name)), None)


def _names(reader: Reader, node: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = node.get(name, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise reader.fail(node, f"{name} must be a list of names")
    return tuple(value)


def _word(reader: Reader, node: Mapping[str, Any], name: str, *, required: bool = False, limit: int = 64) -> str:
    value = node.get(name, "")
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        raise reader.fail(node, f"{name} must be a text of 1–{limit} characters")
    return value


def _items(reader: Reader, root: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = root.get(name) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise reader.fail(root, f"{name} must be a list of mappings")
    return value


def _id(reader: Reader, node: Mapping[str, Any], seen: set[str], label: str) -> str:
    value = node.get("id")
    if not isinstance(value, str) or not _ID.match(value):
        raise reader.fail(node, f"{label} needs an id (lower-case letters, digits, _)")
    if value in seen:
        raise reader.fail(node, f"two {label}s with id {value!r}")
    seen.add(value)
    return value


def _time(reader: Reader, node: Mapping[str, Any], name: str, default: time) -> time:
    value = node.get(name)
    if value is None:
        return default
    match = _TIME.match(str(value))
    if not match:
        raise reader.fail(node, f"{name} must be HH:MM, not {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def _step(reader: Reader, node: Mapping[str, Any], seen: set[str], library: set[str]) -> GroupStep:
    step_id = _id(reader, node, seen, "step")
    mode = node.get("send", "mass")
    if mode not in MODES:
        raise reader.fail(node, f"send must be one of {', '.join(MODES)}, not {mode!r}")
    day = node.get("day", 0)
    if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 365:
        raise reader.fail(node, "day must be a whole number of days 0–365 after the trigger")
    attachment = _word(reader, node, "attachment", limit=48)
    if attachment and library and attachment not in library:
        raise reader.fail(node, f"attachment {attachment!r} is not an item of sidebar.yaml's library")
    return GroupStep(step_id, day, _time(reader, node, "at", time(10, 0)), mode,
                     reader.text(node, "text", TEXT_PLACEHOLDERS, f"step {step_id}"), attachment)


def _playbook(reader: Reader, node: Mapping[str, Any], seen: set[str], library: set[str]) -> GroupPlaybook:
    playbook_id = _id(reader, node, seen, "playbook")
    target_node = reader.section(node, "groups")
    unknown = set(target_node) - {"stores", "codes", "__line__"}
    if unknown:
        raise reader.fail(target_node, f"unknown groups key(s) {sorted(unknown)}; known: stores, codes")
    target = GroupTarget(_names(reader, target_node, "stores"), _names(reader, target_node, "codes"))
    trigger_node = reader.section(node, "trigger")
    trigger_type = str(trigger_node.get("type", ""))
    if trigger_type not in TRIGGERS:
        raise reader.fail(trigger_node, f"unknown trigger {trigger_type!r}; known: {', '.join(known_triggers())}")

    def fail(message: str) -> ConfigError:
        return reader.fail(trigger_node, f"trigger {trigger_type}: {message}")

    params = TRIGGERS[trigger_type].check(trigger_node, fail)
    step_ids: set[str] = set()
    steps = tuple(_step(reader, s, step_ids, library) for s in _items(reader, node, "steps"))
    if not steps:
        raise reader.fail(node, f"playbook {playbook_id} has no steps")
    return GroupPlaybook(playbook_id, _word(reader, node, "name", limit=64) or playbook_id, target, trigger_type,
                         params, steps)


def load_groups(path: Path, library: set[str] | None = None) -> GroupsConfig:
    if not path.exists():
        return GroupsConfig()
    reader = Reader(path)
    root = load_yaml(path) or {}
    if not isinstance(root, dict):
        raise ConfigError(f"{path}: expected a mapping")
    library = library or set()
    full_at = int(reader.number(root, "group_full_at", 190, minimum=2))
    if full_at > WECOM_SCAN_FULL:
        raise reader.fail(root, f"group_full_at must be at most {WECOM_SCAN_FULL} (WeCom's mark for scan joins)")
    codes = []
    names: set[str] = set()
    for node in _items(reader, root, "codes"):
        code = CodeConf(_word(reader, node, "name", required=True), _word(reader, node, "store", required=True),
                        _word(reader, node, "owner"), _word(reader, node, "campaign"), _word(reader, node, "welcome"))
        if code.name in names:
            raise reader.fail(node, f"two codes named {code.name!r}")
        names.add(code.name)
        codes.append(code)
    welcome_ids: set[str] = set()
    welcomes = []
    for node in _items(reader, root, "welcome"):
        welcome_id = _id(reader, node, welcome_ids, "welcome")
        attachment = _word(reader, node, "attachment", limit=48)
        if attachment and library and attachment not in library:
            raise reader.fail(node, f"attachment {attachment!r} is not an item of sidebar.yaml's library")
        welcomes.append(WelcomeConf(welcome_id, reader.text(node, "text", TEXT_PLACEHOLDERS, f"welcome {welcome_id}"),
                                    attachment, _names(reader, node, "stores"), _names(reader, node, "codes")))
    for code in codes:
        if code.welcome and code.welcome not in welcome_ids:
            raise reader.fail(root, f"code {code.name!r}: unknown welcome {code.welcome!r}")
    playbook_ids: set[str] = set()
    playbooks = tuple(_playbook(reader, node, playbook_ids, library) for node in _items(reader, root, "playbooks"))
    room_base = _word(reader, root, "room_base_name", limit=40) or "{store}会员群"
    return GroupsConfig(full_at, bool(root.get("store_codes", True)), room_base, tuple(codes), tuple(welcomes),
                        playbooks)


def load(config_dir: Path, loaded: Mapping[str, Any]) -> GroupsConfig:
    """The feature table's loader (bot/features.py): config/groups.yaml, after the sidebar's library."""
    library = loaded.get("sidebar")
    items = set(library.items) if library is not None else set()
    return load_groups(config_dir / FILE_NAME, items)


GROUPS = ConfigKey("groups", GroupsConfig)  # deps.config[GROUPS]
