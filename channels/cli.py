"""``scrm channels``: sync the channel codes (渠道活码) with WeCom, list them, report what they brought."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.clikit import SubParsers, add_period_arguments, period, setup, with_deps

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["add_command"]


def add_command(sub: SubParsers) -> None:
    """``scrm channels``, added by the CLI from its feature's ``cli`` slot (bot/feature.py)."""
    channels = sub.add_parser("channels", help="channel codes (渠道活码): sync with WeCom, list, report")
    channels.add_argument("action", choices=["sync", "list", "report"])
    channels.add_argument("--store", default="", help="one store code (report)")
    add_period_arguments(channels)
    channels.set_defaults(run=_channels)


def _channels(args: argparse.Namespace) -> int:
    from bot.progress import Progress
    from channels.report import channel_figures, format_figures
    from channels.service import live_codes, sync_channels

    settings = setup()
    since, until = period(args)

    async def run(deps: Deps) -> int:
        if args.action == "sync":
            result = await sync_channels(deps, progress=Progress("codes", enabled=sys.stderr.isatty()))
            print(f"channel codes: {result.created} created, {result.updated} updated, {result.deleted} deleted, "
                  f"{result.unchanged} unchanged, {len(result.skipped)} without members")
            for state, errmsg in result.failed:
                print(f"refused by WeCom: {state}: {errmsg}", file=sys.stderr)
            return 1 if result.failed else 0
        if args.action == "list":
            for way in await live_codes():
                channel = way.channel
                store = channel.store.code if channel.store else "-"
                print(f"{way.kind:<6} {channel.state:<30} {store:<8} {len(way.users) or '-':>3} users  "
                      f"{channel.name}  {way.qr_code}")
            return 0
        rows = await channel_figures(since, until, store=args.store or None)
        print(f"channels {since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} UTC")
        print("\n".join(format_figures(deps.config.templates, rows)))
        return 0

    return with_deps(settings, run)
