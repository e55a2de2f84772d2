"""``scrm sop``: a sweep now (``run-once``), the execution report (``--lift``: against the holdout; moment steps: who
published and how many customers could see it), the playbooks."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.clikit import SubParsers, setup, with_deps
from sop.config import PLAYBOOKS

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["add_command", "sop_command"]


def add_command(sub: SubParsers) -> None:
    """``scrm sop``, added by the CLI from its feature's ``cli`` slot (bot/feature.py)."""
    sop = sub.add_parser("sop", help="SOP playbooks: run-once (a sweep now), report [--lift], playbooks")
    sop.add_argument("action", choices=["run-once", "report", "playbooks"])
    sop.add_argument("--lift", action="store_true", help="treated vs holdout conversion, with a 95%% CI")
    sop.add_argument("--by", choices=["guide", "store", "playbook"], default="guide")
    sop.add_argument("--days", type=int, default=30, help="report on tasks due in the last N days")
    sop.set_defaults(run=_sop)


def _sop(args: argparse.Namespace) -> int:
    async def run(deps: Deps) -> None:
        print(await sop_command(deps, args))

    with_deps(setup(), run)
    return 0


async def sop_command(deps: Deps, args: argparse.Namespace) -> str:
    """What ``scrm sop <action>`` prints."""
    from sop.moments import sync_due
    from sop.report import (
        delivered_steps,
        execution_rate,
        format_delivered,
        format_execution,
        format_lift,
        format_moments,
        lift,
        moment_steps,
    )
    from sop.service import run_tick

    now = deps.clock.now()
    if args.action == "run-once":
        result = await run_tick(deps)
        if result is None:
            return "another engine is sweeping (lease held); nothing done"
        return (f"sop: {result.created} tasks created ({result.statements} statements, {result.seconds:.2f}s), "
                f"{result.occurrences} moment occurrences, {result.closed_by_goal} closed by goal")
    if args.action == "playbooks":
        return "\n".join(f"{p.id:<22} {p.name:<8} {p.trigger_type:<15} steps={len(p.steps)} "
                         f"holdout={p.holdout_pct:g}%" for p in deps.config[PLAYBOOKS].playbooks)
    if args.lift:
        return "\n".join(format_lift(await lift(deps.config[PLAYBOOKS], now)))
    since = now - timedelta(days=args.days)
    lines = format_execution(await execution_rate(since, now, args.by), args.by)
    mass = await delivered_steps(since, now)
    if mass:
        lines += format_delivered(mass)
    await sync_due(deps, since, now)  # who published, as WeCom says now
    moments = await moment_steps(since, now)
    if moments:
        lines += format_moments(moments)
    return "\n".join(lines)
