"""The ``scrm`` command (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable, Sequence

from aiohttp import web

from bot.logs import configure_logging
from config.settings import Settings, SettingsError, load_settings

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    """Register a subcommand handler: one function per command."""

    def register(func: Command) -> Command:
        _COMMANDS[name] = func
        return func

    return register


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as err:
        print(f"scrm: {err}", file=sys.stderr)
        raise SystemExit(2) from None


@command("serve")
def _serve(args: argparse.Namespace) -> int:
    from bot.app import create_app  # noqa: PLC0415 - keep `scrm --help` fast

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings, role=args.role)
    port = args.port or settings.port
    web.run_app(
        app, host=args.host, port=port, access_log=None, print=None, shutdown_timeout=settings.scrm_shutdown_grace_s + 5
    )
    return 0


@command("migrate")
def _migrate(args: argparse.Namespace) -> int:
    from bot.db import migrate  # noqa: PLC0415

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(migrate(settings.database_url))
    print("schema up to date")
    return 0


@command("simulator")
def _simulator(args: argparse.Namespace) -> int:
    import os  # noqa: PLC0415

    from bot.simulator.server import serve_simulator  # noqa: PLC0415
    from bot.simulator.state import SimulatorState  # noqa: PLC0415

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
    from bot.app import open_deps  # noqa: PLC0415
    from bot.customers.backfill import backfill_contacts  # noqa: PLC0415
    from bot.customers.tags import sync_corp_tags  # noqa: PLC0415
    from bot.progress import Progress  # noqa: PLC0415

    settings = _settings()
    configure_logging("WARNING", settings.log_format)

    async def run() -> None:
        async with open_deps(settings) as deps:
            if args.what == "tags":
                groups, tags = await sync_corp_tags(deps)
                print(f"corp tags synced: {groups} groups, {tags} tags")
                return
            result = await backfill_contacts(deps, progress=Progress("contacts", enabled=sys.stderr.isatty()))
            resumed = " (resumed)" if result.resumed else ""
            print(f"contacts synced{resumed}: {result.contacts} customers of {result.members} members")

    asyncio.run(run())
    return 0


@command("demo")
def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo  # noqa: PLC0415

    configure_logging("WARNING")
    return asyncio.run(run_demo())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scrm", description="wecom-scrm: WeCom SCRM bot and sales-assistant backend")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the callback server and/or the queue worker")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server, behind the deployment's proxy
    serve.add_argument("--port", type=int, default=0, help="default: $PORT or 8080")
    serve.add_argument("--role", choices=["all", "web", "worker"], default="all")
    sub.add_parser("migrate", help="bring the database schema up to date")
    sim = sub.add_parser("simulator", help="run the WeCom simulator (a fake qyapi server) for demos and tests")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8090)
    sim.add_argument("--callback-url", default="", help="where simulated callbacks are delivered")
    sync = sub.add_parser("sync", help="pull data from WeCom: contacts (resumable backfill) or tags")
    sync.add_argument("what", choices=["contacts", "tags"])
    sub.add_parser("demo", help="the product end to end on embedded defaults, against the simulator")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _COMMANDS[args.command](args)
