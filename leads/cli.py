"""``scrm leads report``: leads per guide and store (sent, contacted, converted, sales)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.clikit import SubParsers, add_period_arguments, period, setup, with_deps

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["add_command"]


def add_command(sub: SubParsers) -> None:
    """``scrm leads``, added by the CLI from its feature's ``cli`` slot (bot/feature.py)."""
    leads = sub.add_parser("leads", help="leads: report per guide and store (sent, contacted, converted, sales)")
    leads.add_argument("action", choices=["report"])
    leads.add_argument("--store", default="", help="one store code")
    add_period_arguments(leads)
    leads.set_defaults(run=_leads)


def _leads(args: argparse.Namespace) -> int:
    from leads.report import format_report, lead_figures

    settings = setup()
    since, until = period(args)

    async def run(deps: Deps) -> None:
        figures = await lead_figures(since, until, store=args.store or None)
        scope = f", store {args.store}" if args.store else ""
        print(f"leads sent {since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} UTC{scope}")
        print(format_report(figures))

    with_deps(settings, run)
    return 0
