"""The sidebar's config: the script and material library (话术库 / 素材库) and the page texts in
``config/sidebar.yaml``, checked as a whole.

Items are data: a text with placeholders, an image or file under ``config/``, a link (news card)
or a mini-program card, each checked against WeCom's rules for ``sendChatMessage`` when loaded.
A mistake raises ``ConfigError`` naming the file, the line and the item; nothing of it is used.

Loaded with every other config file (``deps.config[LIBRARY]``, bot/appconfig.py) and reloaded with
them, all or nothing (bot/reload.py: 重载配置, or each process's check of the files).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.appconfig import ConfigKey
from bot.configfiles import ConfigError, Reader, load_yaml, plain_fields

__all__ = ["LIBRARY",
    "LABEL_KEYS", "LABEL_PLACEHOLDERS", "PLACEHOLDERS", "TEXT_KEYS", "TEXT_PLACEHOLDERS", "Library", "LibraryItem",
    "load",
]

FILE_NAME = "sidebar.yaml"
PLACEHOLDERS = frozenset({"name", "guide", "store"})
TEXT_KEYS = (
    "login_bad_state", "login_bad_code", "login_not_member", "session_expired", "forbidden",
    "signature_failed", "server_error", "page_title", "page_reopen",
    "card_today", "card_days_ago", "card_channel_unknown", "card_relation_active", "card_relation_lost",
    "card_relation_deleted", "card_tag_by_guide", "card_tag_in_wecom", "card_group_name",
    "bad_request", "bad_note_empty", "bad_note_too_long", "bad_rule_tag", "bad_task_no_text", "bad_library_item",
    "rate_limited",
    "next_task_overdue", "next_task", "next_lead", "next_reorder",
)
# The placeholders a text may use (the others take none).
TEXT_PLACEHOLDERS = {"card_days_ago": frozenset({"days"}), "bad_note_too_long": frozenset({"count"}),
                     "next_task_overdue": frozenset({"reason"}), "next_task": frozenset({"reason"}),
                     "next_lead": frozenset({"reason"}), "next_reorder": frozenset({"date", "share"})}
# What the page shows (sidebar/static/app.js gets them in the page), and the {names} each may use.
LABEL_KEYS = (
    "unavailable", "error", "sent", "cancelled", "send_failed", "send", "tag_remove", "tag_removed", "tag_add",
    "tag_add_option", "tag_added", "tags_none", "orders_count", "orders_average", "orders_last", "orders_none",
    "leads_none", "lead_contacted", "lead_contacted_done", "lead_dismiss", "lead_dismiss_done", "tasks_none",
    "tasks_count", "task_send", "task_done", "task_done_done", "note_placeholder", "note_label", "note_save",
    "note_saved", "notes_meta", "none", "avatar_letter", "header_channel", "header_added", "header_days",
    "header_guides", "library_title", "library_search", "library_search_label", "library_none",
    "group_members", "group_owner", "group_customers", "group_customers_count", "group_customer_orders",
    "group_tasks", "group_code", "group_code_none", "group_code_size", "group_steps", "group_step_send",
    "connecting", "open_in_wecom", "wecom_signature_failed", "open_in_chat",
    "wecom_unreachable", "next_send", "tags_why",
)
_COUNT, _REASON, _WHEN = frozenset({"count"}), frozenset({"reason"}), frozenset({"when"})
LABEL_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "send_failed": _REASON, "wecom_signature_failed": _REASON, "wecom_unreachable": _REASON,
    "orders_count": _COUNT, "tasks_count": _COUNT, "group_members": _COUNT, "group_customers_count": _COUNT,
    "group_customer_orders": _COUNT, "orders_last": _WHEN, "header_added": _WHEN,
    "tag_remove": frozenset({"tag"}), "orders_average": frozenset({"average"}),
    "notes_meta": frozenset({"talk", "note"}), "header_channel": frozenset({"channel"}),
    "header_days": frozenset({"days"}),
    "group_code_size": frozenset({"count", "full"}), "header_guides": frozenset({"guides"}),
    "group_owner": frozenset({"owner"}),
}
KINDS = ("text", "image", "file", "link", "miniprogram")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_HTTP = ("http://", "https://")
# WeCom's limits for temporary media (media/upload): image ≤ 10 MB JPG/PNG, file ≤ 20 MB.
_FILE_LIMITS = {"image": 10 << 20, "file": 20 << 20}


@dataclass(frozen=True, slots=True)
class LibraryItem:
    id: str
    group: str
    title: str
    kind: str
    text: str = ""
    file: Path | None = None
    file_digest: str = ""  # a changed file gets a new media_id
    url: str = ""
    desc: str = ""
    image_url: str = ""
    appid: str = ""
    page: str = ""
    keywords: tuple[str, ...] = ()

    def matches(self, words: Sequence[str]) -> bool:
        haystack = " ".join((self.title, self.group, self.text, self.desc, *self.keywords)).lower()
        return all(word.lower() in haystack for word in words)

    def render(self, values: Mapping[str, str]) -> str:
        return self.text.format_map({name: values.get(name, "") for name in PLACEHOLDERS})


@dataclass(frozen=True, slots=True)
class Library:
    items: Mapping[str, LibraryItem]
    groups: tuple[str, ...]
    texts: Mapping[str, str]
    guide_tag_groups: tuple[str, ...]
    order: tuple[str, ...] = field(default_factory=tuple)
    labels: Mapping[str, str] = field(default_factory=dict)

    def search(self, query: str) -> list[LibraryItem]:
        words = query.split()
        return [self.items[item_id] for item_id in self.order if self.items[item_id].matches(words)]

    def text(self, key: str, **values: Any) -> str:
        return self.texts[key].format_map(values)


class _Reader(Reader):
    def string(self, node: Mapping[str, Any], name: str, label: str, *, required: bool = True) -> str:
        value = node.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(node, f"{label}: {name} must be a non-empty string")
        return value


def _placeholders(reader: _Reader, node: Mapping[str, Any], text: str, label: str) -> None:
    try:
        names = plain_fields(text)  # no format spec: "{name:>50000000}" would render 50 MB per call
    except ValueError as err:
        raise reader.fail(node, f"{label}: bad placeholder: {err}") from None
    unknown = names - PLACEHOLDERS
    if unknown:
        known = ", ".join(sorted(PLACEHOLDERS))
        raise reader.fail(node, f"{label}: unknown placeholder {{{sorted(unknown)[0]}}} (known: {known})")


def _material_file(reader: _Reader, node: Mapping[str, Any], label: str, kind: str, config_dir: Path) -> dict[str, Any]:
    path = (config_dir / reader.string(node, "file", label)).resolve()
    if not path.is_relative_to(config_dir.resolve()) or not path.is_file():
        raise reader.fail(node, f"{label}: file {node['file']!r} is not a file under {config_dir}")
    data = path.read_bytes()
    if not 5 < len(data) <= _FILE_LIMITS[kind]:
        raise reader.fail(node, f"{label}: {len(data)} bytes is outside WeCom's limit for {kind}")
    if kind == "image" and not data.startswith((b"\x89PNG", b"\xff\xd8\xff")):
        raise reader.fail(node, f"{label}: an image must be a JPG or PNG")
    return {"file": path, "file_digest": hashlib.sha256(data).hexdigest()[:16]}


def _item(reader: _Reader, node: Any, group: str, config_dir: Path) -> LibraryItem:
    if not isinstance(node, dict):
        raise reader.fail(node, f"group {group}: an item must be a mapping")
    item_id = reader.string(node, "id", f"group {group}")
    if not _ID.match(item_id):
        raise reader.fail(node, f"item {item_id!r}: id must be lower-case letters, digits and _")
    label = f"item {item_id}"
    kind = reader.string(node, "kind", label)
    if kind not in KINDS:
        raise reader.fail(node, f"{label}: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    title = reader.string(node, "title", label)
    keywords = node.get("keywords") or []
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise reader.fail(node, f"{label}: keywords must be a list of strings")
    fields: dict[str, Any] = {"id": item_id, "group": group, "title": title, "kind": kind, "keywords": tuple(keywords)}
    if kind == "text":
        fields["text"] = reader.string(node, "text", label)
        _placeholders(reader, node, fields["text"], label)
    elif kind in ("image", "file"):
        fields |= _material_file(reader, node, label, kind, config_dir)
    elif kind == "link":
        fields["url"] = reader.string(node, "url", label)
        fields["desc"] = reader.string(node, "desc", label, required=False)
        fields["image_url"] = reader.string(node, "image_url", label, required=False)
        if not fields["url"].startswith(_HTTP):
            raise reader.fail(node, f"{label}: url must start with http:// or https://")
    else:
        fields["appid"] = reader.string(node, "appid", label)
        fields["page"] = reader.string(node, "page", label)
        fields["image_url"] = reader.string(node, "image_url", label)
        if not fields["page"].split("?", 1)[0].endswith(".html"):
            raise reader.fail(node, f"{label}: a mini-program page must end in .html (WeCom's rule)")
    if fields.get("image_url") and not fields["image_url"].startswith(_HTTP):
        raise reader.fail(node, f"{label}: image_url must start with http:// or https://")
    return LibraryItem(**fields)


def load(config_dir: Path, loaded: Mapping[str, Any] | None = None) -> Library:
    """``config/sidebar.yaml`` (a config loader's shape; the library needs no other file's values)."""
    path = config_dir / FILE_NAME
    data = load_yaml(path)
    reader = _Reader(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    texts = data.get("texts") or {}
    missing = [key for key in TEXT_KEYS if not isinstance(texts.get(key), str) or not texts[key].strip()]
    if missing:
        raise reader.fail(texts, f"texts: missing {', '.join(missing)}")
    for key in TEXT_KEYS:
        reader.text(texts, key, TEXT_PLACEHOLDERS.get(key, frozenset()), f"texts: {key}")
    labels = reader.section(data, "labels")
    missing = [key for key in LABEL_KEYS if not isinstance(labels.get(key), str) or not labels[key].strip()]
    if missing:
        raise reader.fail(labels, f"labels: missing {', '.join(missing)}")
    for key in LABEL_KEYS:
        reader.text(labels, key, LABEL_PLACEHOLDERS.get(key, frozenset()), f"labels: {key}")
    tag_groups = data.get("guide_tag_groups") or []
    if not isinstance(tag_groups, list) or not all(isinstance(g, str) for g in tag_groups):
        raise reader.fail(data, "guide_tag_groups must be a list of tag group names")
    items: dict[str, LibraryItem] = {}
    groups: list[str] = []
    for group_node in data.get("groups") or []:
        if not isinstance(group_node, dict):
            raise reader.fail(data, "groups: each group must be a mapping")
        name = reader.string(group_node, "name", "group")
        groups.append(name)
        for node in group_node.get("items") or []:
            item = _item(reader, node, name, config_dir)
            if item.id in items:
                raise reader.fail(node, f"item {item.id}: duplicate id")
            items[item.id] = item
    return Library(items, tuple(groups), {k: str(texts[k]) for k in TEXT_KEYS}, tuple(tag_groups),
                   tuple(items), {k: str(labels[k]) for k in LABEL_KEYS})


LIBRARY = ConfigKey("sidebar", Library)  # deps.config[LIBRARY]
