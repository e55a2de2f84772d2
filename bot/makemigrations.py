"""Developer tool: write a migration for model changes (``make migrations``); commit bot/migrations/.

A new migration that the previous release could not run against (a column dropped, renamed or
altered; a NOT NULL column without a default) is refused and removed, with the reason: split it
into expand now and contract in a later release (bot/migrationcheck.py). When it is the contract
step of a change whose expand step has shipped, say so: ``make migrations CONTRACT="why it is safe"``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from tortoise.cli.cli import run_cli_async

from bot.db import tortoise_config
from bot.migrationcheck import MARKER, MIGRATIONS, unsafe_operations

# The autodetector compares models with the migrations on disk; no database is needed.
CONFIG = tortoise_config("sqlite://:memory:")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make migrations")
    parser.add_argument("--contract", default="", help="why this unsafe (contracting) step is safe in this release")
    args, rest = parser.parse_known_args(argv)
    before = set(MIGRATIONS.glob("*.py"))
    code: int = asyncio.run(run_cli_async(["-c", "bot.makemigrations.CONFIG", "makemigrations", *rest])) or 0
    for path in sorted(set(MIGRATIONS.glob("*.py")) - before):
        unsafe = unsafe_operations(path)
        if unsafe and args.contract:
            path.write_text(f"{MARKER} {args.contract}\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
        elif unsafe:
            path.unlink()
            print("refused: the previous release, still running during a deploy, could not live with", file=sys.stderr)
            for line in unsafe:
                print(f"  {line}", file=sys.stderr)
            print("Expand now (nullable column, new table), contract in a later release; for a contract step whose\n"
                  'expand step has shipped: make migrations CONTRACT="why it is safe now"', file=sys.stderr)
            return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
