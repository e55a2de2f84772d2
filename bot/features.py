"""The map: every feature and what it plugs into the engine, composed here and nowhere else.

One entry per feature (as Home Assistant lists an integration's ``PLATFORMS``, aiogram's
``dp.include_routers(...)`` or arq's ``Worker(functions=..., cron_jobs=...)``). The app, the
scheduler, the config loading, the chat-command router, the CLI and the demo read this table;
nothing scans packages or relies on an import made elsewhere. Adding an extension is one
registered function or class in the feature's module, plus one line here (CONTRIBUTING.md).

Entries are dotted names (``"module"`` or ``"module:attribute"``), imported when first read, so
this module imports no feature code and every module may import it without a cycle.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["FEATURES", "Feature", "Slot", "attributes", "import_modules", "resolve"]

Slot = Literal["handlers", "kinds", "metrics", "card_sections"]
Attributes = Literal["ticks", "routes", "profile", "demo", "cli", "startup", "worker_startup"]


@dataclass(frozen=True, slots=True)
class Feature:
    name: str
    # ``module:load`` functions ``(config_dir, loaded) -> value``, stored as AppConfig.<attribute>;
    # listed in load order (a later loader may read what an earlier one loaded). All of them are
    # loaded again together when a file changes or on 重载配置 (bot/reload.py).
    config: tuple[tuple[str, str], ...] = ()
    # Its ``handlers/<feature>.py``: the ``router`` (event handlers and ticks, bot/dispatch.py), and the
    # ``@command`` chat commands and ``@on_handover`` hooks that register when it is imported.
    handlers: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()  # modules registering tag rule types, SOP triggers/goals, lead patterns,
    # chat-command argument kinds and roles (bot/commands.py: ``@arg_kind``, ``use_access``)
    ticks: tuple[str, ...] = ()  # ``module:NAME`` of a bot.scheduler.Tick declared beside its handler
    routes: tuple[str, ...] = ()  # ``module:function(app, settings)`` adding HTTP routes (web role)
    profile: tuple[str, ...] = ()  # ``module:function`` extra lines for the 客户 profile, in order
    metrics: tuple[str, ...] = ()  # modules registering ``@metric`` board metrics
    card_sections: tuple[str, ...] = ()  # modules registering sidebar ``@card_section``s
    # ``module:chapter(n)`` for `scrm demo`, played in table order; ``n`` is the one narrator
    # (simulator/narrator.py), the runner is simulator/demo.py.
    demo: tuple[str, ...] = ()
    # ``module:add_command(subparsers)`` adding `scrm <name>`, its runner set on its parser with
    # ``set_defaults(run=...)``; the helpers they share are bot/clikit.py.
    cli: tuple[str, ...] = ()
    # ``module:NAME`` of a tuple of the config/templates.yaml ids the module renders: a file without
    # one of them stops the start, naming it (bot/templates.py ``require``).
    templates: tuple[str, ...] = ()
    # ``module:function(deps)`` awaited once the database is up, in every process (web, worker, CLI).
    startup: tuple[str, ...] = ()
    # ``module:function(deps)`` awaited when a worker starts, before it takes events.
    worker_startup: tuple[str, ...] = ()


FEATURES: tuple[Feature, ...] = (
    Feature(
        "customers",
        config=(("templates", "bot.templates:load"), ("org", "customers.config:load")),
        handlers=("handlers.customers",),
        kinds=("customers.lookup",),
        routes=("customers.intake:add_routes",),
        demo=("customers.demo:chapter",),
        cli=("customers.cli:add_command",),
        startup=("handlers.customers:apply_configured_org",),
        worker_startup=("handlers.customers:sync_corp_tags_at_start",),
        templates=("customers.delivery:TEMPLATES",),
    ),
    Feature(
        "tagging",
        config=(("tag_rules", "tagging.config:load"),),
        handlers=("handlers.tagging",),
        kinds=("tagging.kinds.behaviour", "tagging.kinds.channel", "tagging.kinds.keyword",
               "tagging.kinds.lifecycle", "tagging.kinds.prediction", "tagging.kinds.rfm"),
        ticks=("handlers.tagging:RETAG_ALL", "handlers.tagging:RECONCILE_TAGS", "handlers.tagging:PUSH_TAGS"),
        demo=("tagging.demo:chapter",),
        cli=("tagging.cli:add_command",),
        templates=("tagging.report:TEMPLATES", "tagging.kinds.behaviour:TEMPLATES", "tagging.kinds.channel:TEMPLATES",
                   "tagging.kinds.keyword:TEMPLATES", "tagging.kinds.lifecycle:TEMPLATES",
                   "tagging.kinds.prediction:TEMPLATES", "tagging.kinds.rfm:TEMPLATES"),
    ),
    Feature(
        "leads",
        config=(("leads", "leads.config:load"),),
        handlers=("handlers.leads",),
        kinds=("leads.kinds",),
        ticks=("handlers.leads:LEADS_SWEEP", "handlers.leads:LEADS_FLUSH"),
        routes=("leads.signals:add_routes",),
        profile=("leads.chat:lead_lines",),
        metrics=("leads.report",),
        demo=("leads.demo:chapter",),
        cli=("leads.cli:add_command",),
    ),
    Feature(
        "boards",
        config=(("leaderboard", "boards.config:load"),),
        handlers=("handlers.boards",),
        ticks=("handlers.boards:BOARD_DAILY", "handlers.boards:BOARD_WEEKLY", "handlers.boards:BOARD_MONTHLY"),
        metrics=("boards.kinds",),
        demo=("boards.demo:chapter",),
        templates=("boards.report:TEMPLATES", "boards.delivery:TEMPLATES", "boards.chat:TEMPLATES"),
    ),
    Feature(
        "operators",
        handlers=("handlers.operators",),
        kinds=("operators.roles",),
        ticks=("handlers.operators:HANDOVER_CHECK",),
        demo=("operators.demo:chapter",),
        templates=("operators.handover:TEMPLATES",),
    ),
    Feature(
        "sop",
        config=(("sop", "sop.config:load"),),
        handlers=("handlers.sop",),
        kinds=("sop.kinds.triggers", "sop.kinds.goals"),
        ticks=("handlers.sop:SOP_TICK", "handlers.sop:SOP_DIGEST", "handlers.sop:SOP_REMINDER",
               "handlers.sop:SOP_ESCALATION"),
        profile=("sop.chat:open_task_lines",),
        metrics=("sop.report",),
        demo=("sop.demo:chapter",),
        cli=("sop.cli:add_command",),
        templates=("sop.delivery:TEMPLATES",),
    ),
    Feature(
        "orgsync",
        handlers=("handlers.orgsync",),
        ticks=("handlers.orgsync:ORG_SYNC",),
        demo=("orgsync.demo:chapter",),
    ),
    Feature(
        "channels",
        handlers=("handlers.channels",),
        metrics=("channels.report",),
        demo=("channels.demo:chapter",),
        cli=("channels.cli:add_command",),
        templates=("channels.report:TEMPLATES", "channels.service:TEMPLATES"),
    ),
    Feature(
        "sidebar",
        config=(("sidebar", "sidebar.config:load"),),
        routes=("sidebar.views:setup_sidebar",),
        card_sections=("sidebar.kinds", "sidebar.nextaction"),
        demo=("sidebar.demo:chapter",),
        cli=("sidebar.cli:add_command",),
    ),
    Feature(
        "predict",
        handlers=("handlers.predict",),
        ticks=("handlers.predict:PREDICT_NIGHTLY",),
        profile=("predict.chat:prediction_lines",),
        card_sections=("predict.sidebar",),
        metrics=("predict.report",),
        demo=("predict.demo:chapter",),
        cli=("predict.cli:add_command",),
        templates=("predict.config:TEMPLATES",),
    ),
    Feature(
        "acquisition",
        config=(("acquisition", "acquisition.config:load"),),
        handlers=("handlers.acquisition",),
        ticks=("handlers.acquisition:ACQUIRE_DAILY",),
        routes=("acquisition.intake:add_routes",),
        metrics=("acquisition.report",),
        card_sections=("acquisition.sidebar",),
        demo=("acquisition.demo:chapter",),
        cli=("acquisition.cli:add_command",),
        templates=("acquisition.chat:TEMPLATES", "acquisition.delivery:TEMPLATES", "acquisition.page:TEMPLATES",
                   "acquisition.service:TEMPLATES", "acquisition.links:TEMPLATES"),
    ),
    Feature(
        "campaigns",
        config=(("campaigns", "campaigns.config:load"),),
        handlers=("handlers.campaigns",),
        ticks=("handlers.campaigns:CAMPAIGN_SYNC", "handlers.campaigns:CAMPAIGN_SCHEDULE",
               "handlers.campaigns:BEHAVIOUR_DAILY"),
        metrics=("campaigns.report", "campaigns.behaviour"),
        demo=("campaigns.demo:chapter",),
        cli=("campaigns.cli:add_command",),
        templates=("campaigns.chat:TEMPLATES",),
    ),
    Feature(
        "groups",
        config=(("groups", "groups.config:load"),),
        handlers=("handlers.groups",),
        kinds=("groups.kinds",),
        ticks=("handlers.groups:GROUP_CODES_CHECK", "handlers.groups:GROUP_PUSH", "handlers.groups:GROUP_RESULTS",
               "handlers.groups:GROUP_STATS"),
        metrics=("groups.report",),
        demo=("groups.demo:chapter",),
        cli=("groups.cli:add_command",),
        templates=("groups.service:TEMPLATES", "groups.chat:TEMPLATES", "groups.welcome:TEMPLATES",
                   "groups.delivery:TEMPLATES", "groups.report:TEMPLATES"),
    ),
)


def resolve(name: str) -> Any:
    """``"module:attribute"`` → the attribute (importing the module); ``"module"`` → the module."""
    module_name, _, attribute = name.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def import_modules(slot: Slot) -> None:
    """Import every module the table names in ``slot``: their decorators register what they define.

    In module-name order, so what registers first (the order 帮助 lists commands in, say) does not
    depend on which feature is listed first."""
    for name in sorted({name for feature in FEATURES for name in getattr(feature, slot)}):
        importlib.import_module(name)


def attributes(slot: Attributes) -> Iterator[Any]:
    """The objects the table names in ``slot``, feature by feature, in table order."""
    for feature in FEATURES:
        for name in getattr(feature, slot):
            yield resolve(name)
