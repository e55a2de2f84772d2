"""Developer tool: write a migration for model changes (``make migrations``); commit bot/migrations/."""

from __future__ import annotations

import asyncio
import sys

from tortoise.cli.cli import run_cli_async

from bot.db import tortoise_config

# The autodetector compares models with the migrations on disk; no database is needed.
CONFIG = tortoise_config("sqlite://:memory:")

if __name__ == "__main__":
    raise SystemExit(asyncio.run(run_cli_async(["-c", "bot.makemigrations.CONFIG", "makemigrations", *sys.argv[1:]])))
