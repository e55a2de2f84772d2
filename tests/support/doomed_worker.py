"""A worker process that takes events and hangs inside its handler, to be killed with SIGKILL.

Usage: python -m tests.support.doomed_worker '<settings as JSON>'
(``scrm_worker_concurrency`` says how many events it takes at once.)
"""

from __future__ import annotations

import asyncio
import json
import sys

from bot.app import build_worker, open_deps
from bot.deps import Deps
from bot.dispatch import Dispatcher, Router
from bot.events import Event
from config.settings import Settings

router = Router("doomed")


@router.event("change_external_contact")
async def hang(event: Event, deps: Deps) -> None:
    await deps.redis.incr(f"{{{deps.settings.scrm_redis_prefix}}}:doomed:started")
    await asyncio.Event().wait()  # never returns: the test kills this process here


async def main(settings: Settings) -> None:
    async with open_deps(settings, migrate=False) as deps:
        worker = build_worker(deps, Dispatcher([router]), consumer="doomed")
        await worker.run()


if __name__ == "__main__":
    asyncio.run(main(Settings(_env_file=None, **json.loads(sys.argv[1]))))  # type: ignore[call-arg]
