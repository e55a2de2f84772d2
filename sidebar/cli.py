"""``scrm sidebar report``: the scripts guides sent from the sidebar, and the orders within 7 days of them."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.clikit import SubParsers, setup, with_deps

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["add_command"]


def add_command(sub: SubParsers) -> None:
    """``scrm sidebar``, added by the CLI from its feature's ``cli`` slot (bot/feature.py)."""
    sidebar = sub.add_parser("sidebar", help="the guide's sidebar: report (scripts sent, orders within 7 days)")
    sidebar.add_argument("action", choices=["report"])
    sidebar.add_argument("--days", type=int, default=30, help="sends of the last N days")
    sidebar.set_defaults(run=_sidebar)


def _sidebar(args: argparse.Namespace) -> int:
    from sidebar.report import format_report, script_report

    async def run(deps: Deps) -> None:
        now = deps.clock.now()
        print("\n".join(format_report(await script_report(now - timedelta(days=args.days), now))))

    with_deps(setup(), run)
    return 0
