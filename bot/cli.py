"""The ``scrm`` command (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.appconfig import load_app_config
from bot.configfiles import ConfigError
from bot.features import attributes
from bot.logs import configure_logging
from config.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, Command] = {}
R = TypeVar("R")


def command(name: str) -> Callable[[Command], Command]:
    """Register a subcommand handler: one function per command."""

    def register(func: Command) -> Command:
        _COMMANDS[name] = func
        return func

    return register


def _settings() -> Settings:
    try:
        settings = load_settings()
        load_app_config(settings.scrm_config_dir)  # refuse to start on a broken config file
    except (SettingsError, ConfigError) as err:
        print(f"scrm: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    return settings


def _setup(level: str = "WARNING") -> Settings:
    """What every command that reads settings starts with: settings checked, logging configured."""
    settings = _settings()
    configure_logging(level or settings.log_level, settings.log_format)
    return settings


def _with_deps(settings: Settings, work: Callable[[Deps], Awaitable[R]]) -> R:
    """Run ``work`` with the app's dependencies (bot/app.py ``open_deps``), closed afterwards."""
    from bot.app import open_deps

    async def run() -> R:
        async with open_deps(settings) as deps:
            return await work(deps)

    return asyncio.run(run())


def _period(args: argparse.Namespace) -> tuple[datetime, datetime]:
    """``--since``/``--until`` (7d or an ISO date; default: the last 30 days); exits 2 on a bad value."""
    now = datetime.now(UTC)
    try:
        since = _moment(args.since, now) if args.since else now - timedelta(days=30)
        until = _moment(args.until, now) if args.until else now
    except ValueError as err:
        print(f"scrm {args.command}: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    return since, until


@command("serve")
def _serve(args: argparse.Namespace) -> int:
    from bot.app import create_app  # keep `scrm --help` fast
    from bot.serving import run_server

    settings = _setup(level="")
    run_server(create_app(settings, role=args.role), settings, args.host, args.port or settings.port)
    return 0


@command("migrate")
def _migrate(args: argparse.Namespace) -> int:
    from bot.db import migrate

    settings = _setup(level="")
    asyncio.run(migrate(settings.database_url))
    print("schema up to date")
    return 0


@command("simulator")
def _simulator(args: argparse.Namespace) -> int:
    import os

    from simulator.server import serve_simulator
    from simulator.state import SimulatorState

    configure_logging("INFO")
    # The simulated app uses the same credentials as ours when they are set, else demo values.
    overrides = {
        name: os.environ[variable]
        for name, variable in (("corp_id", "WECOM_CORP_ID"), ("secret", "WECOM_SECRET"),
                               ("callback_token", "WECOM_TOKEN"), ("encoding_aes_key", "WECOM_AES_KEY"))
        if os.environ.get(variable)
    }
    if os.environ.get("WECOM_AGENT_ID"):
        overrides["agent_id"] = int(os.environ["WECOM_AGENT_ID"])  # type: ignore[assignment]
    state = SimulatorState(**overrides)  # type: ignore[arg-type]
    print(f"WeCom simulator on http://{args.host}:{args.port} (corp {state.corp_id}); Ctrl-C stops it")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_simulator(args.host, args.port, state, callback_url=args.callback_url or None))
    return 0


@command("sync")
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

    _with_deps(_setup(), run)
    return 0


async def _sync_org(deps: Deps) -> None:
    from bot.progress import Progress
    from orgsync.service import member_left, sync_org

    result = await sync_org(deps, progress=Progress("members", enabled=sys.stderr.isatty()))
    for userid in result.left:
        await member_left(deps, userid, deps.clock.now())
    print(f"org synced: {result.departments} departments, {result.stores} stores, {result.members} members "
          f"({result.created} new, {result.moved} moved, {len(result.left)} left); "
          "run `scrm channels sync` for their codes")


@command("channels")
def _channels(args: argparse.Namespace) -> int:
    from bot.progress import Progress
    from channels.report import channel_figures, format_figures
    from channels.service import live_codes, sync_channels

    settings = _setup()
    since, until = _period(args)

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

    return _with_deps(settings, run)


@command("tags")
def _tags(args: argparse.Namespace) -> int:
    from bot.progress import Progress
    from tagging.delivery import push_pending, reconcile
    from tagging.report import explain_customer
    from tagging.service import retag_everyone

    tty = sys.stderr.isatty()

    async def run(deps: Deps) -> None:
        rules = deps.config.tag_rules
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

    _with_deps(_setup(), run)
    return 0


@command("import")
def _import(args: argparse.Namespace) -> int:
    settings = _setup()
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
        await attribute_orders(affected, deps.config.leads.attribution_days)
        print(f"imported {len(orders)} orders ({len(errors)} bad rows skipped); {len(affected)} customers updated")
        if affected and not args.no_retag:
            retagged = await retag_everyone(deps, progress=sys.stderr.isatty())
            print(f"re-tag: {retagged.retag.pending_relations} relations synced to WeCom")

    _with_deps(settings, run)
    return 1 if errors and not orders else 0


def _import_signals(settings: Settings, path: Path, args: argparse.Namespace) -> int:
    from bot.progress import Progress
    from leads.importer import import_signals

    total = path.read_bytes().count(b"\n")

    async def run(deps: Deps) -> Any:
        return await import_signals(path, attribution_days=deps.config.leads.attribution_days,
                                    progress=Progress("signals", total, enabled=sys.stderr.isatty()))

    result = _with_deps(settings, run)
    for error in result.errors[:50]:
        print(error, file=sys.stderr)
    print(
        f"imported {result.stored} signals ({len(result.errors)} bad lines skipped); "
        f"{result.linked} linked to known customers, the rest wait for their customer"
    )
    return 1 if result.errors and not result.stored else 0


def _import_members(settings: Settings, path: Path, args: argparse.Namespace) -> int:
    from leads.importer import import_members

    async def run(deps: Deps) -> Any:
        return await import_members(path)

    result = _with_deps(settings, run)
    for error in result.errors[:50]:
        print(error, file=sys.stderr)
    print(f"imported {result.stored} member ids ({len(result.errors)} bad rows skipped); "
          f"{result.linked_signals} waiting signals linked to their customer")
    return 1 if result.errors and not result.stored else 0


@command("leads")
def _leads(args: argparse.Namespace) -> int:
    from leads.report import format_report, lead_figures

    settings = _setup()
    since, until = _period(args)

    async def run(deps: Deps) -> None:
        figures = await lead_figures(since, until, store=args.store or None)
        scope = f", store {args.store}" if args.store else ""
        print(f"leads sent {since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} UTC{scope}")
        print(format_report(figures))

    _with_deps(settings, run)
    return 0


def _moment(text: str, now: datetime) -> datetime:
    """"7d" (days ago), or an ISO date / datetime (UTC unless it has an offset)."""
    if text.endswith("d") and text[:-1].isdigit():
        return now - timedelta(days=int(text[:-1]))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r}: use 7d or an ISO date like 2026-11-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@command("sop")
def _sop(args: argparse.Namespace) -> int:
    from sop.report import execution_rate, format_execution, format_lift, lift
    from sop.service import run_tick

    async def run(deps: Deps) -> None:
        now = deps.clock.now()
        if args.action == "run-once":
            result = await run_tick(deps)
            if result is None:
                print("another engine is sweeping (lease held); nothing done")
            else:
                print(f"sop: {result.created} tasks created ({result.statements} statements, "
                      f"{result.seconds:.2f}s), {result.closed_by_goal} closed by goal")
        elif args.action == "playbooks":
            for p in deps.config.sop.current.playbooks:
                print(f"{p.id:<22} {p.name:<8} {p.trigger_type:<15} steps={len(p.steps)} "
                      f"holdout={p.holdout_pct:g}%")
        elif args.lift:
            print("\n".join(format_lift(await lift(deps.config.sop.current, now))))
        else:
            rows = await execution_rate(now - timedelta(days=args.days), now, args.by)
            print("\n".join(format_execution(rows, args.by)))

    _with_deps(_setup(), run)
    return 0


@command("events")
def _events(args: argparse.Namespace) -> int:
    from bot.deadletters import events_command

    async def run(deps: Deps) -> int:
        return await events_command(deps.queue, args.action, sys.stdout, ids=args.ids, every=args.all,
                                    route=args.route, since=args.since)

    return _with_deps(_setup(), run)


@command("sidebar")
def _sidebar(args: argparse.Namespace) -> int:
    from sidebar.report import format_report, script_report

    async def run(deps: Deps) -> None:
        now = deps.clock.now()
        print("\n".join(format_report(await script_report(now - timedelta(days=args.days), now))))

    _with_deps(_setup(), run)
    return 0


@command("predict")
def _predict(args: argparse.Namespace) -> int:
    from predict.cli import run  # numpy / lightgbm load only for this command

    if args.orders:  # a file: no database, no settings needed
        return run(args)
    settings = _setup()
    return run(args, timezone=settings.scrm_timezone, chart_font=settings.scrm_chart_font)


@command("demo")
def _demo(args: argparse.Namespace) -> int:
    from simulator.demo import run_demo

    configure_logging("WARNING")
    return asyncio.run(run_demo(serve=args.serve, port=args.port))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scrm", description="wecom-scrm: WeCom SCRM bot and sales-assistant backend")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the callback server and/or the queue worker")
    # Loopback unless told: in front of it goes a reverse proxy (docker-compose.yml, SECURITY.md).
    serve.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1 (0.0.0.0 in a container)")
    serve.add_argument("--port", type=int, default=0, help="default: $PORT or 8080")
    serve.add_argument("--role", choices=["all", "web", "worker"], default="all")
    sub.add_parser("migrate", help="bring the database schema up to date")
    sim = sub.add_parser("simulator", help="run the WeCom simulator (a fake qyapi server) for demos and tests")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8090)
    sim.add_argument("--callback-url", default="", help="where simulated callbacks are delivered")
    sync = sub.add_parser("sync", help="pull data from WeCom: contacts (resumable backfill), tags, or org "
                          "(departments and members)")
    sync.add_argument("what", choices=["contacts", "tags", "org"])
    demo = sub.add_parser("demo", help="the product end to end on embedded defaults, against the simulator")
    demo.add_argument("--serve", action="store_true", help="keep serving after the story (the sidebar URL works)")
    demo.add_argument("--port", type=int, default=8080, help="the app's port with --serve (the simulator's: +10)")
    sidebar = sub.add_parser("sidebar", help="the guide's sidebar: report (scripts sent, orders within 7 days)")
    sidebar.add_argument("action", choices=["report"])
    sidebar.add_argument("--days", type=int, default=30, help="sends of the last N days")
    tags = sub.add_parser("tags", help="auto-tagging: rules, retag, explain, push, reconcile")
    tags.add_argument("action", choices=["rules", "retag", "explain", "push", "reconcile"])
    tags.add_argument("external_userid", nargs="?", default="")
    tags.add_argument("--no-push", action="store_true", help="retag locally, do not call mark_tag")
    sop = sub.add_parser("sop", help="SOP playbooks: run-once (a sweep now), report [--lift], playbooks")
    sop.add_argument("action", choices=["run-once", "report", "playbooks"])
    sop.add_argument("--lift", action="store_true", help="treated vs holdout conversion, with a 95%% CI")
    sop.add_argument("--by", choices=["guide", "store", "playbook"], default="guide")
    sop.add_argument("--days", type=int, default=30, help="report on tasks due in the last N days")
    imp = sub.add_parser(
        "import",
        help="import: orders FILE.csv (columns in customers/orders.py), signals FILE.jsonl, "
        "members FILE.csv (member_id, external_userid, unionid)",
    )
    imp.add_argument("what", choices=["orders", "signals", "members"])
    imp.add_argument("file")
    imp.add_argument("--no-retag", action="store_true")
    leads = sub.add_parser("leads", help="leads: report per guide and store (sent, contacted, converted, sales)")
    leads.add_argument("action", choices=["report"])
    leads.add_argument("--store", default="", help="one store code")
    leads.add_argument("--since", default="", help="7d or an ISO date (default: 30 days ago)")
    leads.add_argument("--until", default="", help="7d or an ISO date (default: now)")
    events = sub.add_parser("events", help="the event queue: stats, dead letters, replay them")
    events.add_argument("action", choices=["stats", "dead", "replay"])
    events.add_argument("ids", nargs="*", default=[], help="replay: dead-letter ids (from `scrm events dead`)")
    events.add_argument("--all", action="store_true", help="replay every dead letter (with --route: those matching)")
    events.add_argument("--route", default="", help="only routes containing this, e.g. add_external_contact")
    events.add_argument("--since", default="", help="dead: failed since 30m, 2h, 7d or an ISO date")

    channels = sub.add_parser("channels", help="channel codes (渠道活码): sync with WeCom, list, report")
    channels.add_argument("action", choices=["sync", "list", "report"])
    channels.add_argument("--store", default="", help="one store code (report)")
    channels.add_argument("--since", default="", help="7d or an ISO date (default: 30 days ago)")
    channels.add_argument("--until", default="", help="7d or an ISO date (default: now)")

    for add_command in attributes("cli"):  # the features' own sub-commands (bot/features.py)
        add_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _COMMANDS[args.command](args)
