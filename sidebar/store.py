"""The library in use by this process: the running config's (config/sidebar.yaml).

It is reloaded with every other config file, all or nothing, when a file changes or an operator
sends 重载配置 (bot/reload.py).
"""

from __future__ import annotations

from bot.appconfig import AppConfig
from sidebar.config import Library

__all__ = ["LibraryStore"]


class LibraryStore:
    def __init__(self, config: AppConfig) -> None:
        self._config = config

    async def current(self) -> Library:
        return self._config.sidebar
