"""The dependencies object: everything the app factory built, passed down to ingest, worker and handlers."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from redis.asyncio import Redis

from bot.appconfig import AppConfig
from bot.clock import Clock
from bot.crypto import CallbackCrypto
from bot.metrics import Metrics
from bot.queue import EventQueue
from bot.wecom.client import WeComClient
from config.settings import Settings

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
