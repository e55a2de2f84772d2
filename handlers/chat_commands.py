"""Text messages to the app are chat commands (bot/commands.py); answered by app message."""

from __future__ import annotations

from bot import commands
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event

router = Router("chat_commands")


@router.message("text")
async def on_command(event: Event, deps: Deps) -> None:
    await commands.handle_text(deps, event.get("FromUserName"), event.get("Content"), event.key)
