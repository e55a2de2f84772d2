"""``scrm tags``: the tag rules, a re-tag of everyone, why a customer has a tag, pushing and reconciling."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.clikit import SubParsers, setup, with_deps
from tagging.config import TAG_RULES

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["add_command"]


def add_command(sub: SubParsers) -> None:
    """``scrm tags``, added by the CLI from its feature's ``cli`` slot (bot/feature.py)."""
    tags = sub.add_parser("tags", help="auto-tagging: rules, retag, explain, push, reconcile")
    tags.add_argument("action", choices=["rules", "retag", "explain", "push", "reconcile"])
    tags.add_argument("external_userid", nargs="?", default="")
    tags.add_argument("--no-push", action="store_true", help="retag locally, do not call mark_tag")
    tags.set_defaults(run=_tags)


def _tags(args: argparse.Namespace) -> int:
    from bot.progress import Progress
    from tagging.delivery import push_pending, reconcile
    from tagging.report import explain_customer
    from tagging.service import retag_everyone

    tty = sys.stderr.isatty()

    async def run(deps: Deps) -> None:
        rules = deps.config[TAG_RULES]
        if args.action == "rules":
            for rule in rules.rules:
                print(f"{rule.id:<20} {rule.type_name:<10} {rule.group}: {rule.description}")
        elif args.action == "explain":
            if not args.external_userid:
                raise SystemExit("scrm tags explain <external_userid>")
            print("\n".join(await explain_customer(rules, args.external_userid)))
        elif args.action == "retag":
            run = await retag_everyone(deps, push=not args.no_push, progress=tty)
            print(f"re-tag: {run.retag.desired} tags desired, {run.retag.pending_relations} relations to sync, "
                  f"{run.retag.seconds:.1f}s")
            if run.sync:
                print(f"sync: {run.sync.mark_tag_calls} mark_tag calls, {run.sync.failed} failed")
        elif args.action == "reconcile":
            corrected = await reconcile(deps, progress=Progress("reconcile", enabled=tty))
            result = await push_pending(deps)
            print(f"reconcile: {corrected} rows corrected, {result.mark_tag_calls} mark_tag calls")
        else:
            result = await push_pending(deps, progress=Progress("mark_tag", enabled=tty))
            print(f"sync: {result.mark_tag_calls} mark_tag calls, {result.failed} failed"
                  + ("; this hour's mark_tag budget is spent, the rest stays pending" if result.hour_budget_spent
                     else ""))

    with_deps(setup(), run)
    return 0
