"""The SOP's config: playbooks as data (config/sop/*.yaml) and the holiday list, loaded into frozen
objects, every mistake named by file, line and playbook (``bot.configfiles.Reader``); reloaded
without restart when a file changes, a broken edit leaving the running set as it was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

import structlog

from bot.appconfig import ConfigKey
from bot.configfiles import ConfigError, Reader, load_yaml
from bot.feature import load_features
from bot.templates import Templates
from customers.config import Org
from customers.lifecycle import STAGES as LIFECYCLE_STAGES
from sop.kinds import ACTIONS, GOALS, TRIGGERS, Fail, TriggerKind
from sop.kinds.triggers import Holidays

__all__ = ["PLAYBOOKS", "Audience", "Step", "Playbook", "PlaybookSet", "load", "load_playbooks", "load_holidays"]

log = structlog.get_logger(__name__)
AUDIENCE_KEYS = ("tags", "exclude_tags", "stores", "lifecycle", "rfm")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_ID = re.compile(r"^[a-z0-9_]{1,48}$")
DEFAULT_AT = time(10, 0)


@dataclass(frozen=True, slots=True)
class Audience:
    tags: tuple[str, ...] = ()  # has any of them (lifecycle and RFM tags are tags too)
    exclude_tags: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()  # store codes of the guide
    lifecycle: tuple[str, ...] = ()
    rfm: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    day: int
    at: time | None  # None: due ``day`` days after the event itself (event triggers only)
    action: str
    template: str
    reason: str
    coupon: str = ""
    attachment: Mapping[str, Any] | None = None
    params: Any = None  # the action's own parameters, as its kind checked them (sop/kinds ``ACTIONS``)


@dataclass(frozen=True, slots=True)
class Playbook:
    id: str
    name: str
    description: str
    trigger_type: str
    trigger_params: Any
    audience: Audience
    steps: tuple[Step, ...]
    holdout_pct: float = 0.0
    priority: int = 0
    goal: str = ""
    lift_window_days: int = 14
    source: str = ""

    @property
    def trigger(self) -> TriggerKind:
        return TRIGGERS[self.trigger_type]


@dataclass(frozen=True, slots=True)
class PlaybookSet:
    playbooks: tuple[Playbook, ...]
    holidays: Holidays

    def get(self, key: str) -> Playbook | None:
        """By id or by (Chinese) name."""
        return next((p for p in self.playbooks if key in (p.id, p.name)), None)


def load_holidays(path: Path) -> Holidays:
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of holiday name → [dates]")
    dates: dict[str, tuple[date, ...]] = {}
    for name, days in data.items():
        if name == "__line__":
            continue
        if not isinstance(days, list) or not days or not all(isinstance(d, date) for d in days):
            raise ConfigError(f"{path}: holiday {name!r}: needs a list of dates (YYYY-MM-DD)")
        dates[str(name)] = tuple(days)
    return Holidays(dates)


def _names(value: Any, fail: Fail, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise fail(f"audience.{key} must be a list of names")
    return tuple(value)


def _audience(raw: Any, fail: Fail, org: Org) -> Audience:
    if raw is None:
        return Audience()
    if not isinstance(raw, dict):
        raise fail(f"audience must be a mapping ({', '.join(AUDIENCE_KEYS)})")
    unknown = set(raw) - set(AUDIENCE_KEYS) - {"__line__"}
    if unknown:
        raise fail(f"unknown audience key(s) {sorted(unknown)}; known: {', '.join(AUDIENCE_KEYS)}")
    audience = Audience(**{key: _names(raw.get(key), fail, key) for key in AUDIENCE_KEYS})
    bad_stores = [s for s in audience.stores if s not in org.stores]
    if bad_stores:
        raise fail(f"unknown store(s) {bad_stores} (stores are in org.yaml)")
    bad_stages = [s for s in audience.lifecycle if s not in LIFECYCLE_STAGES]
    if bad_stages:
        raise fail(f"unknown lifecycle stage(s) {bad_stages}; known: {', '.join(LIFECYCLE_STAGES)}")
    return audience


def _holdout(raw: Any, fail: Fail) -> float:
    text = str(raw if raw is not None else 0).strip().removesuffix("%")
    try:
        pct = float(text)
    except ValueError:
        raise fail("holdout must be a percentage such as 10%") from None
    if not 0 <= pct <= 50:
        raise fail("holdout must be between 0% and 50%")
    return pct


def _at(at_raw: Any, fail: Fail, kind: TriggerKind, day: int) -> time | None:
    at: time | None = None
    if at_raw is not None:
        match = _TIME.match(str(at_raw))
        if not match:
            raise fail(f"at must be a time of day HH:MM, not {at_raw!r}")
        at = time(int(match[1]), int(match[2]))
    if kind.dated:
        return at or DEFAULT_AT
    if day < 0:
        raise fail("an event trigger cannot have a step before the event (day < 0)")
    if day == 0 and at is not None:
        raise fail("day 0 of an event trigger is due at the event itself; remove `at`")
    return at


def _step(
    raw: Any, reader: Reader, playbook_fail: Fail, kind: TriggerKind, templates: Templates, playbook: Mapping[str, Any]
) -> Step:
    if not isinstance(raw, dict):
        raise playbook_fail("a step is a mapping with id, day, action, template")

    def fail(message: str) -> ConfigError:
        return reader.fail(raw, f"step {raw.get('id')!r}: {message}")

    step_id = raw.get("id")
    if not isinstance(step_id, str) or not _ID.match(step_id):
        raise fail("id must be lower-case letters, digits and _")
    day = raw.get("day")
    if not isinstance(day, int) or isinstance(day, bool) or not -60 <= day <= 730:
        raise fail("day must be a whole number of days (0, 1, 3, 7 …)")
    at = _at(raw.get("at"), fail, kind, day)
    action = raw.get("action", "message")
    if action not in ACTIONS:
        raise fail(f"unknown action {action!r}; known: {ACTIONS.known()}")
    params = ACTIONS[action].check(raw, fail, kind, playbook)
    template = str(raw.get("template"))
    if template not in templates:
        raise fail(f"template {template!r} is not in templates.yaml")
    if templates.get(template).kind != "sop_step":
        raise fail(f"template {template!r} must be of kind sop_step")
    attachment = raw.get("attachment")
    if attachment is not None and not isinstance(attachment, dict):
        raise fail("attachment must be a mapping (type, title, url …)")
    return Step(
        step_id,
        day,
        at,
        str(action),
        str(template),
        str(raw.get("reason", "")),
        str(raw.get("coupon", "")),
        {k: v for k, v in attachment.items() if k != "__line__"} if attachment else None,
        params,
    )


def _playbook(raw: Any, reader: Reader, templates: Templates, org: Org, holidays: Holidays) -> Playbook:
    def fail(message: str) -> ConfigError:
        return reader.fail(raw, f"playbook {raw.get('id') if isinstance(raw, dict) else None!r}: {message}")

    if not isinstance(raw, dict):
        raise fail("a playbook is a mapping")
    known = {
        "id",
        "name",
        "description",
        "trigger",
        "audience",
        "steps",
        "holdout",
        "priority",
        "goal",
        "lift_window_days",
        "__line__",
    }
    unknown = set(raw) - known
    if unknown:
        raise fail(f"unknown key(s) {sorted(unknown)}")
    playbook_id = raw.get("id")
    if not isinstance(playbook_id, str) or not _ID.match(playbook_id):
        raise fail("id must be lower-case letters, digits and _ (at most 48)")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or " " in name:
        raise fail("needs a name without spaces (used in chat: SOP 暂停 <名称>)")
    trigger_raw = raw.get("trigger")
    if not isinstance(trigger_raw, dict) or trigger_raw.get("type") not in TRIGGERS:
        got = trigger_raw.get("type") if isinstance(trigger_raw, dict) else trigger_raw
        raise fail(str(TRIGGERS.unknown(str(got))))
    kind = TRIGGERS[trigger_raw["type"]]
    params = kind.check(trigger_raw, lambda message: fail(f"trigger: {message}"), {"holidays": holidays})
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        raise fail("needs at least one step")
    steps = tuple(_step(s, reader, fail, kind, templates, raw) for s in steps_raw)
    if len({s.id for s in steps}) != len(steps):
        raise fail("two steps share an id")
    goal = raw.get("goal", "") or ""
    if goal and goal not in GOALS:
        raise fail(str(GOALS.unknown(goal)))
    window = raw.get("lift_window_days", 14)
    if not isinstance(window, int) or not 1 <= window <= 365:
        raise fail("lift_window_days must be 1..365")
    priority = raw.get("priority", 0)
    if not isinstance(priority, int):
        raise fail("priority must be a whole number")
    return Playbook(
        playbook_id,
        name.strip(),
        str(raw.get("description", "")),
        trigger_raw["type"],
        params,
        _audience(raw.get("audience"), fail, org),
        steps,
        _holdout(raw.get("holdout"), fail),
        priority,
        goal,
        window,
        f"{reader.path}:{raw['__line__']}",
    )


def load_playbooks(config_dir: Path, templates: Templates, org: Org) -> PlaybookSet:
    """Every playbook of ``config_dir/sop/*.yaml``, or a ConfigError naming file, line and what is wrong."""
    load_features()  # the trigger kinds and goals a playbook may name
    holidays = load_holidays(config_dir / "holidays.yaml")
    playbooks: list[Playbook] = []
    for path in sorted((config_dir / "sop").glob("*.yaml")):
        reader = Reader(path)
        data = load_yaml(path)
        if not isinstance(data, dict) or not isinstance(data.get("playbooks"), list):
            raise ConfigError(f"{path}: expected `playbooks:` with a list of playbooks")
        for raw in data["playbooks"]:
            playbook = _playbook(raw, reader, templates, org, holidays)
            for other in playbooks:
                if playbook.id == other.id or playbook.name == other.name:
                    raise ConfigError(
                        f"{playbook.source}: playbook {playbook.id!r} ({playbook.name}) "
                        f"repeats the id or name of {other.source}"
                    )
            playbooks.append(playbook)
    return PlaybookSet(tuple(playbooks), holidays)


def load(config_dir: Path, loaded: Mapping[str, Any]) -> PlaybookSet:
    """The feature's config loader (bot/feature.py): config/sop/*.yaml, reloaded with every config file
    (bot/reload.py)."""
    return load_playbooks(config_dir, loaded["templates"], loaded["org"])


PLAYBOOKS = ConfigKey("sop", PlaybookSet)  # deps.config[PLAYBOOKS]
