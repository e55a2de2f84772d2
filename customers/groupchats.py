"""Customer group chats (客户群): kept from change_external_chat events and groupchat/get."""

from __future__ import annotations

from datetime import datetime

import structlog

from bot.deps import Deps
from customers.models import GroupChat, GroupChatMember
from customers.service import utc_from_unix

__all__ = ["refresh_chat", "chat_dismissed"]

log = structlog.get_logger(__name__)


async def refresh_chat(deps: Deps, chat_id: str) -> GroupChat:
    """Fetch the chat and its members from WeCom and replace the local copy."""
    detail = await deps.wecom.groupchat_get(chat_id)
    members = detail.get("member_list", [])
    chat, _ = await GroupChat.update_or_create(
        chat_id=chat_id,
        defaults={
            "name": str(detail.get("name", ""))[:128],
            "owner_userid": str(detail.get("owner", "")),
            "notice": str(detail.get("notice", "")),
            "member_count": len(members),
            "created_at": utc_from_unix(detail.get("create_time")),
            "dismissed_at": None,
        },
    )
    current = {m["userid"] for m in members if m.get("userid")}
    await GroupChatMember.filter(chat_id=chat.id).exclude(userid__in=current).delete()
    # Only the newcomers are written: a 200-member group's every join is one short insert, not 200.
    kept = set(await GroupChatMember.filter(chat_id=chat.id).values_list("userid", flat=True))
    await GroupChatMember.bulk_create(
        [
            GroupChatMember(
                chat_id=chat.id,
                userid=m["userid"],
                type=int(m.get("type", 1) or 1),
                join_time=utc_from_unix(m.get("join_time")),
                join_scene=int(m.get("join_scene", 0) or 0),
            )
            for m in members
            if m.get("userid") and m["userid"] not in kept
        ],
        ignore_conflicts=True,
    )
    log.info("group_chat_refreshed", members=len(members))
    return chat


async def chat_dismissed(chat_id: str, at: datetime) -> None:
    updated = await GroupChat.filter(chat_id=chat_id, dismissed_at__isnull=True).update(dismissed_at=at)
    if not updated:
        await GroupChat.get_or_create(chat_id=chat_id, defaults={"dismissed_at": at})
