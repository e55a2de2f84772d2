"""The ``scrm`` command (also ``python -m bot``): the engine's sub-commands, and each feature's own.

The engine's are here: serve (web, worker or all roles), migrate, events; and the two that start the
simulator package (``simulator``, ``demo``). A feature's sub-command is its ``<feature>/cli.py``
``add_command(subparsers)``, its feature's ``cli`` slot (bot/feature.py); what they share (settings,
logging, the app's dependencies, ``--since``/``--until``) is bot/clikit.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.clikit import setup, with_deps
from bot.feature import attributes
from bot.logs import configure_logging
from config.settings import SettingsError, check_role

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    from bot.app import create_app  # keep `scrm --help` fast
    from bot.serving import run_server

    settings = setup(level="")
    try:
        check_role(settings, args.role)
    except SettingsError as err:
        print(f"scrm: {err}", file=sys.stderr)
        return 2
    run_server(create_app(settings, role=args.role), settings, args.host, args.port or settings.port,
               drain=args.role != "worker")
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from bot.db import migrate

    settings = setup(level="")
    asyncio.run(migrate(settings.database_url))
    print("schema up to date")
    return 0


# The simulator is a package of its own, not the engine; these two imports run only when its
# commands do (tests/test_imports.py reads module-level imports, so they are not engine edges).
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


def _demo(args: argparse.Namespace) -> int:
    from simulator.demo import run_demo

    configure_logging("WARNING")
    return asyncio.run(run_demo(serve=args.serve, port=args.port))


def _events(args: argparse.Namespace) -> int:
    from bot.deadletters import events_command

    async def run(deps: Deps) -> int:
        return await events_command(deps.queue, args.action, sys.stdout, ids=args.ids, every=args.all,
                                    route=args.route, since=args.since)

    return with_deps(setup(), run)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scrm", description="wecom-scrm: WeCom SCRM bot and sales-assistant backend")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the callback server and/or the queue worker")
    # Loopback unless told: in front of it goes a reverse proxy (docker-compose.yml, SECURITY.md).
    serve.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1 (0.0.0.0 in a container)")
    serve.add_argument("--port", type=int, default=0, help="default: $PORT or 8080")
    serve.add_argument("--role", choices=["all", "web", "worker"], default="all")
    serve.set_defaults(run=_serve)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(run=_migrate)
    sim = sub.add_parser("simulator", help="run the WeCom simulator (a fake qyapi server) for demos and tests")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8090)
    sim.add_argument("--callback-url", default="", help="where simulated callbacks are delivered")
    sim.set_defaults(run=_simulator)
    demo = sub.add_parser("demo", help="the product end to end on embedded defaults, against the simulator")
    demo.add_argument("--serve", action="store_true", help="keep serving after the story (the sidebar URL works)")
    demo.add_argument("--port", type=int, default=8080, help="the app's port with --serve (the simulator's: +10)")
    demo.set_defaults(run=_demo)
    events = sub.add_parser("events", help="the event queue: stats, dead letters, replay them")
    events.add_argument("action", choices=["stats", "dead", "replay"])
    events.add_argument("ids", nargs="*", default=[], help="replay: dead-letter ids (from `scrm events dead`)")
    events.add_argument("--all", action="store_true", help="replay every dead letter (with --route: those matching)")
    events.add_argument("--route", default="", help="only routes containing this, e.g. add_external_contact")
    events.add_argument("--since", default="", help="dead: failed since 30m, 2h, 7d or an ISO date")
    events.set_defaults(run=_events)

    for add_command in attributes("cli"):  # the features' own sub-commands, in bot/features.py's order
        add_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    code: int = args.run(args)  # each sub-command's runner, set on its parser
    return code
