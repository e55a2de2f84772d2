"""Every typed AppKey of the aiohttp app, in one module."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.deps import Deps
from bot.dispatch import Dispatcher
from bot.spool import CallbackSpool
from bot.worker import Worker
from config.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DEPS = web.AppKey("deps", Deps)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
WORKER = web.AppKey("worker", Worker)
# The web role's spool for callbacks Redis could not take (absent: none, bot/spool.py).
SPOOL = web.AppKey("spool", CallbackSpool)
# Set when the process was told to stop (SIGTERM): /healthz answers 503 and connections close after
# each answer, so the proxy drains this process before it stops accepting (bot/serving.py).
STOPPING = web.AppKey("stopping", asyncio.Event)
