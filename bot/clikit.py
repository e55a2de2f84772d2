"""What every ``scrm`` sub-command shares: settings checked, logging, the app's dependencies, periods.

The engine's commands (bot/cli.py) and the features' own (``<feature>/cli.py``, listed in the ``cli``
slot of its feature, bot/feature.py) both use these, so a feature's sub-command is its parser and its runner only.
A sub-command's runner is set on its parser: ``parser.set_defaults(run=runner)``; ``scrm`` calls it
with the parsed arguments and exits with what it returns.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from bot.appconfig import load_app_config
from bot.configfiles import ConfigError
from bot.logs import configure_logging
from config.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["Runner", "SubParsers", "add_period_arguments", "moment", "period", "settings", "setup", "with_deps"]

R = TypeVar("R")
Runner = Callable[[argparse.Namespace], int]
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # what ``add_command`` receives


def settings() -> Settings:
    """The settings, with every config file checked: a broken one stops the command (exit 2, one line)."""
    try:
        loaded = load_settings()
        load_app_config(loaded.scrm_config_dir)  # refuse to start on a broken config file
    except (SettingsError, ConfigError) as err:
        print(f"scrm: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    return loaded


def setup(level: str = "WARNING") -> Settings:
    """What every command that reads settings starts with: settings checked, logging configured
    (``level=""``: the configured level)."""
    loaded = settings()
    configure_logging(level or loaded.log_level, loaded.log_format)
    return loaded


def with_deps(settings: Settings, work: Callable[[Deps], Awaitable[R]]) -> R:
    """Run ``work`` with the app's dependencies (bot/app.py ``open_deps``), closed afterwards."""
    from bot.app import open_deps  # keep `scrm --help` fast

    async def run() -> R:
        async with open_deps(settings) as deps:
            return await work(deps)

    return asyncio.run(run())


def add_period_arguments(parser: argparse.ArgumentParser) -> None:
    """``--since``/``--until``, read by ``period``."""
    parser.add_argument("--since", default="", help="7d or an ISO date (default: 30 days ago)")
    parser.add_argument("--until", default="", help="7d or an ISO date (default: now)")


def period(args: argparse.Namespace) -> tuple[datetime, datetime]:
    """``--since``/``--until`` (7d or an ISO date; default: the last 30 days); exits 2 on a bad value."""
    now = datetime.now(UTC)
    try:
        since = moment(args.since, now) if args.since else now - timedelta(days=30)
        until = moment(args.until, now) if args.until else now
    except ValueError as err:
        print(f"scrm {args.command}: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    return since, until


def moment(text: str, now: datetime) -> datetime:
    """"7d" (days ago), or an ISO date / datetime (UTC unless it has an offset)."""
    if text.endswith("d") and text[:-1].isdigit():
        return now - timedelta(days=int(text[:-1]))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r}: use 7d or an ISO date like 2026-11-01") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
