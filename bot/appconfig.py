"""Every operator-edited config file, loaded and cross-checked together: at start, and again as a
whole when one changes (bot/reload.py)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Generic, TypeVar

from bot.feature import features, resolve
from bot.templates import Templates
from bot.templates import load as load_templates

__all__ = ["AppConfig", "ConfigKey", "Loaded", "Watch", "config_signature", "load_app_config"]

T = TypeVar("T")

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


@dataclass(frozen=True, slots=True)
class ConfigKey(Generic[T]):
    """A feature's config value, typed (as aiohttp's ``web.AppKey``): declared beside its loader,
    ``RULES = ConfigKey("tag_rules", RuleSet)``, read as ``deps.config[RULES]``. The name is the
    attribute of the feature's ``config`` slot (bot/feature.py)."""

    name: str
    type: type[T]


@dataclass(slots=True)
class AppConfig:
    """The running config; ``replace_with`` swaps all of it at once, so every reader of
    ``deps.config`` sees either the old files or the new ones, never a mix. The templates are the
    engine's; each feature's value is ``config[KEY]``."""

    templates: Templates
    values: dict[str, Any] = field(default_factory=dict)  # each feature's config, by its slot's attribute
    loaded: Loaded = field(default_factory=Loaded)
    watch: Watch = field(default_factory=Watch)

    def __getitem__(self, key: ConfigKey[T]) -> T:
        try:
            value = self.values[key.name]
        except KeyError:
            raise KeyError(f"unknown config {key.name!r} (known: {', '.join(sorted(self.values))})") from None
        if not isinstance(value, key.type):
            raise TypeError(f"config {key.name!r} is a {type(value).__name__}, not a {key.type.__name__}")
        return value

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

    The templates first, then each feature's loaders (its ``config`` slot, bot/feature.py), in the
    order bot/features.py lists them. The files are looked at first, so a file changed while
    loading makes the next check load again."""
    signature = config_signature(config_dir)
    loaded: dict[str, Any] = {"templates": load_templates(config_dir, {})}
    for feature in features():
        for attribute, loader in feature.config:
            if attribute in loaded:
                raise ValueError(f"two configs named {attribute!r} (feature {feature.name})")
            loaded[attribute] = resolve(loader)(config_dir, loaded)
    digests = _digests(config_dir, signature)
    templates = loaded.pop("templates")
    return AppConfig(templates, loaded, loaded=Loaded(signature, digests), watch=Watch(announced=digests))
