"""``scrm sync`` (pull contacts, tags or the org from WeCom) and ``scrm import`` (orders, signals, members).

Each is one command over several features' data, as operators know it: ``org`` is orgsync's sync, and
``signals``/``members`` are leads' imports; an imported order is attributed to its lead and re-tags.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.clikit import SubParsers, setup, with_deps
from leads.config import LEADS

if TYPE_CHECKING:
    from bot.deps import Deps
    from config.settings import Settings

__all__ = ["add_command"]


def add_command(sub: SubParsers) -> None:
    """``scrm sync`` and ``scrm import``, added by the CLI from its feature's ``cli`` slot (bot/feature.py)."""
    sync = sub.add_parser("sync", help="pull data from WeCom: contacts (resumable backfill), tags, or org "
                          "(departments and members)")
    sync.add_argument("what", choices=["contacts", "tags", "org"])
    sync.set_defaults(run=_sync)
    imp = sub.add_parser(
        "import",
        help="import: orders FILE.csv (columns in customers/orders.py), signals FILE.jsonl, "
        "members FILE.csv (member_id, external_userid, unionid; or a member list: member_id, phone, name, "
        "store, optional guide and unionid)",
    )
    imp.add_argument("what", choices=["orders", "signals", "members"])
    imp.add_argument("file")
    imp.add_argument("--no-retag", action="store_true")
    imp.set_defaults(run=_import)


def _sync(args: argparse.Namespace) -> int:
    from bot.progress import Progress
    from customers.backfill import backfill_contacts
    from customers.tags import sync_corp_tags

    async def run(deps: Deps) -> None:
        if args.what == "org":
            await _sync_org(deps)
            return
        if args.what == "tags":
            groups, tags = await sync_corp_tags(deps)
            print(f"corp tags synced: {groups} groups, {tags} tags")
            return
        result = await backfill_contacts(deps, progress=Progress("contacts", enabled=sys.stderr.isatty()))
        resumed = " (resumed)" if result.resumed else ""
        print(f"contacts synced{resumed}: {result.contacts} customers of {result.members} members")

    with_deps(setup(), run)
    return 0


async def _sync_org(deps: Deps) -> None:
    from bot.progress import Progress
    from orgsync.service import sync_and_tell

    result = await sync_and_tell(deps, progress=Progress("members", enabled=sys.stderr.isatty()))
    print(f"org synced: {result.departments} departments, {result.stores} stores, {result.members} members "
          f"({result.created} new, {result.moved} moved, {len(result.left)} left); "
          "run `scrm channels sync` for their codes")


def _import(args: argparse.Namespace) -> int:
    settings = setup()
    path = Path(args.file)
    if not path.is_file():
        print(f"scrm import: no such file: {path}", file=sys.stderr)
        return 2
    runs = {"orders": _import_orders, "signals": _import_signals, "members": _import_members}
    return runs[args.what](settings, path, args)


def _import_orders(settings: Settings, path: Path, args: argparse.Namespace) -> int:
    from bot.progress import Progress
    from customers.orders import read_orders_csv, record_orders
    from leads.report import attribute_orders
    from tagging.service import retag_everyone

    orders, errors = read_orders_csv(path)
    for error in errors:
        print(error, file=sys.stderr)

    async def run(deps: Deps) -> None:
        progress = Progress("orders", len(orders), enabled=sys.stderr.isatty())
        affected: set[int] = set()
        for start in range(0, len(orders), 1000):
            batch = orders[start : start + 1000]
            affected.update(await record_orders(batch))
            progress.advance(len(batch))
        progress.finish()
        await attribute_orders(affected, deps.config[LEADS].attribution_days)
        print(f"imported {len(orders)} orders ({len(errors)} bad rows skipped); {len(affected)} customers updated")
        if affected and not args.no_retag:
            retagged = await retag_everyone(deps, progress=sys.stderr.isatty())
            print(f"re-tag: {retagged.retag.pending_relations} relations synced to WeCom")

    with_deps(settings, run)
    return 1 if errors and not orders else 0


def _import_signals(settings: Settings, path: Path, args: argparse.Namespace) -> int:
    from bot.progress import Progress
    from leads.importer import import_signals

    total = path.read_bytes().count(b"\n")

    async def run(deps: Deps) -> Any:
        return await import_signals(path, attribution_days=deps.config[LEADS].attribution_days,
                                    progress=Progress("signals", total, enabled=sys.stderr.isatty()))

    result = with_deps(settings, run)
    for error in result.errors[:50]:
        print(error, file=sys.stderr)
    print(
        f"imported {result.stored} signals ({len(result.errors)} bad lines skipped); "
        f"{result.linked} linked to known customers, the rest wait for their customer"
    )
    return 1 if result.errors and not result.stored else 0


def _import_members(settings: Settings, path: Path, args: argparse.Namespace) -> int:
    from acquisition.cli import import_member_list, is_member_list
    from leads.importer import import_members

    if is_member_list(path):  # members to become contacts (acquisition/)
        return import_member_list(settings, path)

    async def run(deps: Deps) -> Any:
        return await import_members(path)

    result = with_deps(settings, run)
    for error in result.errors[:50]:
        print(error, file=sys.stderr)
    print(f"imported {result.stored} member ids ({len(result.errors)} bad rows skipped); "
          f"{result.linked_signals} waiting signals linked to their customer")
    return 1 if result.errors and not result.stored else 0
