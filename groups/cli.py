"""``scrm groups``: sync the group codes (群活码) with WeCom and list them; the groups' figures."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.clikit import SubParsers, setup, with_deps

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["add_command"]


def add_command(sub: SubParsers) -> None:
    """``scrm groups``, added by the CLI from the feature table (bot/features.py)."""
    groups = sub.add_parser("groups", help="customer groups (客户群): group codes, welcome, figures")
    actions = groups.add_subparsers(dest="groups_action", required=True)
    codes = actions.add_parser("codes", help="group codes (群活码)")
    codes.add_argument("codes_action", choices=["sync", "list"])
    codes.set_defaults(run=_codes)


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
