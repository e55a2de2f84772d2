"""The sidebar has no chat command of its own: 重载话术库 is an alias of 重载配置 (handlers/operators.py)."""

from __future__ import annotations

from bot.dispatch import Router

router = Router("sidebar")
