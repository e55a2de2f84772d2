"""May this viewer see this customer or group? Every sidebar read and write asks here first.

The ``external_userid`` or ``chat_id`` the page sends comes from the WeCom client and is never
trusted on its own (no WeCom mechanism signs the chat context for a self-built app): a guide
sees a customer only while they follow them (an active relation), a store manager the customers
of their store's guides, operators, HQ and admins everyone. Anything else is ``Forbidden`` (403),
the same answer for a customer who does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass

from bot.models.customers import Customer, GroupChat, GroupChatMember, Guide, Relationship, Role

__all__ = ["Forbidden", "Viewer", "chat_for", "customer_for", "viewer_and_customer", "viewer_of"]

_SEE_ALL = (Role.OPERATOR, Role.HQ, Role.ADMIN)


class Forbidden(Exception):
    """Not this viewer's customer (or group)."""


@dataclass(frozen=True, slots=True)
class Viewer:
    guide_id: int
    userid: str
    name: str
    role: Role
    store_id: int | None


async def viewer_of(userid: str) -> Viewer:
    guide = await Guide.get_or_none(userid=userid, active=True)
    if guide is None:
        raise Forbidden(f"{userid} is not an active member")
    return Viewer(guide.id, guide.userid, guide.name or guide.userid, Role(guide.role), guide.store_id)  # type: ignore[attr-defined]


async def customer_for(viewer: Viewer, external_userid: str) -> tuple[Customer, Relationship | None]:
    """The customer and the viewer's own active relation with them (None for managers and operators)."""
    return await _customer_for(asyncio.sleep(0, viewer), viewer.userid, external_userid)


async def viewer_and_customer(userid: str, external_userid: str) -> tuple[Viewer, Customer, Relationship | None]:
    """``viewer_of`` and ``customer_for`` in one round trip (the card's hot path): the three reads are
    independent lookups by unique keys, so they run at once."""
    viewer_task = asyncio.ensure_future(viewer_of(userid))
    try:
        customer, relation = await _customer_for(viewer_task, userid, external_userid)
    finally:
        if not viewer_task.done():
            viewer_task.cancel()
    return viewer_task.result(), customer, relation


async def _customer_for(
    viewer_soon: Awaitable[Viewer], userid: str, external_userid: str
) -> tuple[Customer, Relationship | None]:
    if not external_userid:
        raise Forbidden("no customer")
    viewer, customer, own = await asyncio.gather(
        viewer_soon,
        Customer.get_or_none(external_userid=external_userid),
        Relationship.get_or_none(
            guide__userid=userid, customer__external_userid=external_userid,
            deleted_by_guide_at=None, deleted_by_customer_at=None,
        ),
    )
    if customer is None:
        raise Forbidden("unknown customer")
    if own is not None:
        return customer, own
    if viewer.role in _SEE_ALL:
        return customer, None
    if viewer.role == Role.STORE_MANAGER and viewer.store_id is not None:
        in_store = await Relationship.filter(
            customer_id=customer.id, guide__store_id=viewer.store_id, deleted_by_guide_at=None
        ).exists()
        if in_store:
            return customer, None
    raise Forbidden(f"{external_userid} is not a customer of {userid}")


async def chat_for(viewer: Viewer, chat_id: str) -> GroupChat:
    """A customer group the viewer owns or is in (managers: owned by their store; operators: any)."""
    chat = await GroupChat.get_or_none(chat_id=chat_id, dismissed_at=None)
    if chat is None or not chat_id:
        raise Forbidden("unknown group")
    if chat.owner_userid == viewer.userid or viewer.role in _SEE_ALL:
        return chat
    if await GroupChatMember.filter(chat_id=chat.id, userid=viewer.userid).exists():
        return chat
    in_store = viewer.role == Role.STORE_MANAGER and viewer.store_id is not None
    if in_store and await Guide.filter(userid=chat.owner_userid, store_id=viewer.store_id).exists():
        return chat
    raise Forbidden(f"{chat_id} is not a group of {viewer.userid}")
