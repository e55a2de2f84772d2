"""``scrm groups``: sync the group codes (群活码) with WeCom and list them; the groups' figures."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.clikit import SubParsers, add_period_arguments, period, setup, with_deps

if TYPE_CHECKING:
    from bot.deps import Deps
    from groups.welcome import WelcomeSyncResult

__all__ = ["add_command"]


def add_command(sub: SubParsers) -> None:
    """``scrm groups``, added by the CLI from the feature table (bot/features.py)."""
    groups = sub.add_parser("groups", help="customer groups (客户群): group codes, welcome, figures")
    actions = groups.add_subparsers(dest="groups_action", required=True)
    codes = actions.add_parser("codes", help="group codes (群活码)")
    codes.add_argument("codes_action", choices=["sync", "list"])
    codes.set_defaults(run=_codes)
    welcome = actions.add_parser("welcome", help="group welcome templates (入群欢迎语素材)")
    welcome.add_argument("welcome_action", choices=["sync"])
    welcome.set_defaults(run=_welcome)
    report = actions.add_parser("report", help="groups' figures per store and owner")
    add_period_arguments(report)
    report.add_argument("--json", action="store_true", help="one JSON object: stores and owners")
    report.set_defaults(run=_report)
    stats = actions.add_parser("stats", help="read the groups' daily statistics from WeCom")
    stats.add_argument("--days", type=int, default=1, help="the last N days (default: yesterday)")
    stats.set_defaults(run=_stats)


def _print_welcomes(result: WelcomeSyncResult) -> None:
    from groups.welcome import LIBRARY_MAX

    print(f"group welcomes: {result.created} created, {result.updated} updated, {result.deleted} deleted, "
          f"{result.unchanged} unchanged (WeCom keeps at most {LIBRARY_MAX})")
    if result.over_limit:
        print(f"not made, WeCom's library of {LIBRARY_MAX} is full: {', '.join(result.over_limit)}", file=sys.stderr)
    for key, errmsg in result.failed:
        print(f"refused by WeCom: {key}: {errmsg}", file=sys.stderr)


def _welcome(args: argparse.Namespace) -> int:
    from groups.welcome import sync_welcomes

    settings = setup()

    async def run(deps: Deps) -> int:
        result = await sync_welcomes(deps)
        _print_welcomes(result)
        return 1 if result.failed or result.over_limit else 0

    return with_deps(settings, run)


def _codes(args: argparse.Namespace) -> int:
    from bot.progress import Progress
    from groups.models import GroupCodeChat
    from groups.service import live_codes, sync_codes

    settings = setup()

    async def run(deps: Deps) -> int:
        if args.codes_action == "sync":
            result = await sync_codes(deps, progress=Progress("group codes", enabled=sys.stderr.isatty()))
            print(f"group codes: {result.created} created, {result.updated} updated, {result.deleted} deleted, "
                  f"{result.unchanged} unchanged, {len(result.skipped)} waiting for a group")
            if result.welcomes is not None:
                _print_welcomes(result.welcomes)
            for name in result.skipped:
                print(f"no group to list yet (the owner makes one): {name}", file=sys.stderr)
            for name, errmsg in result.failed:
                print(f"refused by WeCom: {name}: {errmsg}", file=sys.stderr)
            return 1 if result.failed else 0
        for code in await live_codes():
            listed = await GroupCodeChat.filter(code_id=code.id, listed=True).values_list("chat_id", flat=True)
            store = code.store.code if code.store else "-"
            print(f"{code.kind:<6} {code.state:<30} {store:<8} {code.owner_userid:<16} {len(listed)} listed  "
                  f"{code.name}  {code.qr_code}")
        return 0

    return with_deps(settings, run)


def _report(args: argparse.Namespace) -> int:
    import json
    from zoneinfo import ZoneInfo

    from groups.report import format_report, group_figures

    settings = setup()
    since, until = period(args)
    zone = ZoneInfo(settings.scrm_timezone)

    async def run(deps: Deps) -> int:
        first, last = since.astimezone(zone).date(), until.astimezone(zone).date()
        stores, owners = await group_figures(first, last, settings.scrm_timezone)
        if args.json:
            print(json.dumps({"since": first.isoformat(), "until": last.isoformat(),
                              "stores": [r.as_json() for r in stores], "owners": [r.as_json() for r in owners]},
                             ensure_ascii=False))
            return 0
        print(f"groups {first} – {last} ({settings.scrm_timezone})")
        print("stores:")
        print("\n".join(format_report(deps.config.templates, stores)))
        print("owners:")
        print("\n".join(format_report(deps.config.templates, owners)))
        return 0

    return with_deps(settings, run)


def _stats(args: argparse.Namespace) -> int:
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from groups.report import sync_stats

    settings = setup()
    if not 1 <= args.days <= 180:
        print("--days: 1 to 180 (WeCom keeps 180 days)", file=sys.stderr)
        return 2

    async def run(deps: Deps) -> int:
        today = deps.clock.now().astimezone(ZoneInfo(settings.scrm_timezone)).date()
        for back in range(args.days, 0, -1):
            rows = await sync_stats(deps, today - timedelta(days=back))
            print(f"{today - timedelta(days=back)}: {rows} owners")
        return 0

    return with_deps(settings, run)
