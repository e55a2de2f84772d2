"""The dependencies object: everything the app factory built, passed down to ingest, worker and handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
from redis.asyncio import Redis

from bot.appconfig import AppConfig
from bot.clock import Clock
from bot.crypto import CallbackCrypto
from bot.deadlines import Deadlines
from bot.metrics import Metrics
from bot.queue import EventQueue
from bot.wecom.client import WeComClient
from config.settings import Settings

if TYPE_CHECKING:
    from bot.dispatch import Router

__all__ = ["Deps"]


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    clock: Clock
    redis: Redis
    queue: EventQueue
    crypto: CallbackCrypto
    http: aiohttp.ClientSession
    wecom: WeComClient
    metrics: Metrics
    config: AppConfig
    # One shared timer bounds every hot-path Redis wait (ingest and intake answer 503 past it).
    deadlines: Deadlines = field(default_factory=Deadlines)
    # The routers this process was built with: their chat commands and hooks are the ones it runs.
    routers: tuple[Router, ...] = ()
