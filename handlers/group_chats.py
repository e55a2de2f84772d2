"""change_external_chat (客户群变更): keep group chats and their members."""

from __future__ import annotations

from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from customers import groupchats
from customers.service import utc_from_unix

router = Router("group_chats")
EVENT = "change_external_chat"


@router.event(EVENT, "create")
@router.event(EVENT, "update")
async def on_chat_changed(event: Event, deps: Deps) -> None:
    # The event says what changed, not the new state: groupchat/get is the truth.
    await groupchats.refresh_chat(deps, event.get("ChatId"))


@router.event(EVENT, "dismiss")
async def on_chat_dismissed(event: Event, deps: Deps) -> None:
    await groupchats.chat_dismissed(event.get("ChatId"), utc_from_unix(event.get("CreateTime")) or deps.clock.now())
