"""The ``scrm`` command (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _COMMANDS[args.command](args)
