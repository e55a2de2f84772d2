"""Load operator-edited YAML files into frozen objects, with errors that name file, line and id."""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ConfigError", "Reader", "load_yaml", "line_of", "plain_fields"]


class ConfigError(Exception):
    """A config file is wrong; the message names the file, the line when known, and what is wrong."""


# libyaml's parser when PyYAML was built with it (its wheels are): about 5× faster than the pure-Python
# one, and every app start and config reload parses all the files.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that remembers the line of every mapping (for error messages)."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        mapping[key] = loader.construct_object(value_node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def load_yaml(path: Path) -> Any:
    """Parse ``path``; every mapping carries its line as ``__line__``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from None
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(f"{path}: {where}{getattr(err, 'problem', None) or err}") from None


def line_of(item: Any) -> str:
    return f"line {item['__line__']}" if isinstance(item, dict) and "__line__" in item else "?"


def plain_fields(text: str) -> set[str]:
    """The ``{name}`` fields of a template text; ValueError for anything but plain names.

    ``{customer_name:>50000000}`` would render 50 million characters, ``{name!r}`` quotes, and
    ``{name.attr}`` / ``{name[0]}`` reach into values: a template an operator edits gets none of it.
    """
    fields: set[str] = set()
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if spec or conversion:
            raise ValueError(f"{shown}: only plain {{name}} fields are allowed (no format spec or conversion)")
        if not name.isidentifier():
            raise ValueError(f"{shown}: only plain {{name}} fields are allowed (no attribute, index or number)")
        fields.add(name)
    return fields


class Reader:
    """Reads one config file's nodes; every error names the file and the node's line (``fail``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: Any, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {line_of(node)}: {message}")

    def section(self, parent: Mapping[str, Any], name: str) -> Mapping[str, Any]:
        value = parent.get(name, {"__line__": parent.get("__line__")})
        if not isinstance(value, dict):
            raise self.fail(parent, f"{name} must be a mapping")
        return value

    def number(self, node: Mapping[str, Any], name: str, default: float, *, minimum: float = 0.0,
               above: bool = False) -> float:
        value = node.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(node, f"{name} must be a number, not {value!r}")
        if value < minimum or (above and value == minimum):
            raise self.fail(node, f"{name} must be {'>' if above else '>='} {minimum}, not {value}")
        return float(value)

    def text(self, node: Mapping[str, Any], name: str, allowed: frozenset[str], label: str) -> str:
        value = node.get(name)
        if not isinstance(value, str) or not value:
            raise self.fail(node, f"{label} needs a text")
        try:
            used = plain_fields(value)
        except ValueError as err:
            raise self.fail(node, f"{label}: {err}") from None
        unknown = used - allowed
        if unknown:
            raise self.fail(node, f"{label}: unknown placeholder(s) {sorted(unknown)}; it may use {sorted(allowed)}")
        return value
