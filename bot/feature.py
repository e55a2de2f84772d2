"""What a feature plugs into the engine, declared by the feature itself in its package's ``__init__``.

Each feature package (listed by name, in order, in bot/features.py) states its parts, as a Home
Assistant integration's manifest or a NetBox plugin's ``PluginConfig`` does::

    # leads/__init__.py
    FEATURE = Feature(
        "leads",
        ticks=("handlers.leads:LEADS_SWEEP", "handlers.leads:LEADS_FLUSH"),
        routes=("leads.signals:add_routes",),
        profile=("leads.chat:lead_lines",),
    )

A slot left out defaults to the file name every feature uses for that part (CONTRIBUTING.md), when
the file is there: ``handlers/<feature>.py``, ``<feature>/kinds.py`` (or ``kinds/``),
``<feature>/report.py`` (its board metrics), ``<feature>/models.py``, ``<feature>/demo.py``
(``chapter``), ``<feature>/cli.py`` (``add_command``) and ``<feature>/config.py`` (``load``, its value
read as ``deps.config[KEY]`` with ``KEY = ConfigKey("<feature>", Type)``). Looking for a file does
not import it, so importing a declaration imports none of the feature's code.

Entries are dotted names (``"module"`` or ``"module:attribute"``), imported when first read. The
app, the scheduler, the config loading, the chat-command router, the CLI, the ORM's model list and
the demo all read ``features()``; ``load_features()`` imports every registering module once at
process start, then freezes the registries (bot/registry.py).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from functools import cache
from typing import Any, Literal

from bot.features import FEATURES
from bot.registry import freeze_all

__all__ = ["Feature", "Slot", "attributes", "features", "import_modules", "load_features", "model_modules", "resolve"]

Slot = Literal["handlers", "kinds", "metrics", "card_sections"]
Attributes = Literal["ticks", "routes", "profile", "demo", "cli", "startup", "worker_startup"]

Names = tuple[str, ...]


def _exists(module: str) -> bool:
    """Is there such a module (a file or a package)? Finds it without running it."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is not there
        return False


class Feature:
    """One feature's parts. ``None`` (a slot left out): the conventional file, if the feature has it."""

    __slots__ = ("name", "config", "handlers", "kinds", "ticks", "routes", "profile", "metrics", "card_sections",
                 "demo", "cli", "templates", "startup", "worker_startup", "models")

    def __init__(
        self,
        name: str,
        *,
        # ``(attribute, "module:load")``: ``load(config_dir, loaded) -> value``, read as ``deps.config[KEY]``;
        # in load order (a later loader may read what an earlier one loaded, templates come first).
        # All are loaded again together when a file changes or on 重载配置 (bot/reload.py).
        config: tuple[tuple[str, str], ...] | None = None,
        # Its handlers module: the ``router`` with its event handlers, ticks, chat commands and hooks.
        handlers: Names | None = None,
        # Modules registering kinds: tag rule types, SOP triggers/goals, lead patterns, argument kinds, roles.
        kinds: Names | None = None,
        ticks: Names = (),  # ``module:NAME`` of a bot.scheduler.Tick declared beside its handler
        routes: Names = (),  # ``module:function(app, settings)`` adding HTTP routes (web role)
        profile: Names = (),  # ``module:function`` extra lines for the 客户 profile, in order
        metrics: Names | None = None,  # modules registering ``@metric`` board metrics
        card_sections: Names = (),  # modules registering sidebar ``@card_section``s
        # ``module:chapter(n)`` for `scrm demo`, played in list order; ``n`` is the one narrator
        # (simulator/narrator.py), the runner is simulator/demo.py.
        demo: Names | None = None,
        # ``module:add_command(subparsers)`` adding `scrm <name>`, its runner set on its parser with
        # ``set_defaults(run=...)``; the helpers they share are bot/clikit.py.
        cli: Names | None = None,
        # ``module:NAME`` of a tuple of the config/templates.yaml ids the module renders: a file without
        # one of them stops the start, naming it (bot/templates.py ``require``).
        templates: Names = (),
        # ``module:function(deps)`` awaited once the database is up, in every process (web, worker, CLI).
        startup: Names = (),
        # ``module:function(deps)`` awaited when a worker starts, before it takes events.
        worker_startup: Names = (),
        models: Names | None = None,  # Tortoise model modules (bot/db.py)
    ) -> None:
        def default(given: Names | None, module: str, attribute: str = "") -> Names:
            if given is not None:
                return given
            return (f"{module}:{attribute}" if attribute else module,) if _exists(module) else ()

        self.name = name
        self.config = config if config is not None else (
            ((name, f"{name}.config:load"),) if _exists(f"{name}.config") else ())
        self.handlers = default(handlers, f"handlers.{name}")
        self.kinds = default(kinds, f"{name}.kinds")
        self.metrics = default(metrics, f"{name}.report")
        self.demo = default(demo, f"{name}.demo", "chapter")
        self.cli = default(cli, f"{name}.cli", "add_command")
        self.models = default(models, f"{name}.models")
        self.ticks, self.routes, self.profile, self.card_sections = ticks, routes, profile, card_sections
        self.templates, self.startup, self.worker_startup = templates, startup, worker_startup

    def __repr__(self) -> str:
        return f"Feature({self.name!r})"


@cache
def features() -> tuple[Feature, ...]:
    """Every feature's declaration, in the order bot/features.py lists them (imports their ``__init__`` only)."""
    declared = []
    for name in FEATURES:
        feature = getattr(importlib.import_module(name), "FEATURE", None)
        if not isinstance(feature, Feature) or feature.name != name:
            raise TypeError(f"feature {name!r} (bot/features.py): its __init__.py must declare "
                            f"FEATURE = Feature({name!r}, ...)")
        declared.append(feature)
    return tuple(declared)


def resolve(name: str) -> Any:
    """``"module:attribute"`` → the attribute (importing the module); ``"module"`` → the module."""
    module_name, _, attribute = name.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def import_modules(slot: Slot) -> None:
    """Import every module the features name in ``slot``: their decorators register what they define.

    In module-name order, so what registers first (the order 帮助 lists commands in, say) does not
    depend on which feature is listed first."""
    for name in sorted({name for feature in features() for name in getattr(feature, slot)}):
        importlib.import_module(name)


@cache
def load_features() -> None:
    """Once per process, at start: import every module the features name that registers something
    (kinds, board metrics, card sections, handlers), then freeze every registry (bot/registry.py)."""
    slots: tuple[Slot, ...] = ("kinds", "metrics", "card_sections", "handlers")
    for slot in slots:
        import_modules(slot)
    freeze_all()


def attributes(slot: Attributes) -> Iterator[Any]:
    """The objects the features name in ``slot``, feature by feature, in list order."""
    for feature in features():
        for name in getattr(feature, slot):
            yield resolve(name)


def model_modules() -> list[str]:
    """Every feature's model modules, in list order."""
    return [name for feature in features() for name in feature.models]
