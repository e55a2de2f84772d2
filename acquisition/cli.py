"""``scrm acquisition``: the acquisition links (获客助手) and the funnel; and the member list import that
``scrm import members`` hands over when the file has a ``phone`` column."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from acquisition.config import ACQUISITION
from bot.clikit import SubParsers, moment, setup, with_deps

if TYPE_CHECKING:
    from bot.deps import Deps
    from config.settings import Settings

__all__ = ["add_command", "import_member_list", "is_member_list"]


def add_command(sub: SubParsers) -> None:
    """``scrm acquisition``, added by the CLI from the feature table (bot/features.py)."""
    parser = sub.add_parser("acquisition", help="member acquisition (添加会员): acquisition links, the funnel")
    actions = parser.add_subparsers(dest="action", required=True)
    links = actions.add_parser("links", help="list the acquisition links with their urls (--sync: make them "
                                             "match the stores and guides first)")
    links.add_argument("--sync", action="store_true")
    links.add_argument("--batch", default="", help="also a link for this import batch (its guides)")
    funnel = actions.add_parser("funnel", help="imported → assigned → added, per store and per guide")
    funnel.add_argument("--since", default="", help="members imported since (7d or an ISO date)")
    funnel.add_argument("--json", action="store_true")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    settings = setup()
    if args.action == "links":
        return with_deps(settings, lambda deps: _links(deps, args))
    return with_deps(settings, lambda deps: _funnel(deps, args))


async def _links(deps: Deps, args: argparse.Namespace) -> int:
    from acquisition.links import live_links, sync_links

    status = 0
    if args.sync or args.batch:
        result = await sync_links(deps, batch=args.batch or None)
        print(f"acquisition links: {result.created} created, {result.updated} updated, {result.deleted} deleted, "
              f"{result.unchanged} unchanged")
        for name, why in result.refused:
            print(f"refused by WeCom: {name}: {why}", file=sys.stderr)
            status = 1
    for link in await live_links():
        print(f"{link.scope:<6} {link.key:<24} {len(link.users):>3} users  {link.name}  {link.url}")
    return status


async def _funnel(deps: Deps, args: argparse.Namespace) -> int:
    from acquisition.report import FUNNEL_KEYS, funnel

    now = deps.clock.now()
    try:
        since = moment(args.since, now) if args.since else None
    except ValueError as err:
        print(f"scrm acquisition funnel: {err}", file=sys.stderr)
        return 2
    figures = await funnel(now, deps.config[ACQUISITION].acquire_due_days, since=since)
    if args.json:
        print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
        return 0
    header = f"{'':<16}" + "".join(f"{key.removeprefix('added_via_'):>9}" for key in FUNNEL_KEYS)
    print(header)
    rows = [("total", figures["total"])] + [(f"store {r['store']}", r) for r in figures["stores"]] + [
        (f"  {r['userid']}", r) for r in figures["guides"]]
    for label, row in rows:
        print(f"{label[:16]:<16}" + "".join(f"{row[key]:>9}" for key in FUNNEL_KEYS))
    return 0


def is_member_list(path: Path) -> bool:
    """A member list (phone column) rather than today's id mapping (external_userid / unionid only)."""
    with path.open(encoding="utf-8-sig") as handle:
        header = handle.readline()
    return "phone" in [name.strip() for name in header.split(",")]


def import_member_list(settings: Settings, path: Path) -> int:
    """``scrm import members FILE.csv`` with member_id, phone, name, store, optional guide and unionid."""
    from acquisition.service import import_rows

    async def run(deps: Deps) -> Any:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
        rows = list(enumerate(csv.DictReader(io.StringIO(text)), 2))  # row 1 is the header
        return await import_rows(deps, rows, path.name)

    result = with_deps(settings, run)
    for number, reason in result.rejected:
        print(f"{path.name}: row {number}: {reason}", file=sys.stderr)
    print(f"imported {result.stored} members ({result.created} new, {result.updated} updated, "
          f"{result.unchanged} unchanged), {len(result.rejected)} rows rejected; {result.assigned} add tasks "
          f"assigned, {result.already_contacts} already contacts")
    return 1 if result.rejected and not result.stored else 0
