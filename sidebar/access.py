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
from typing import Any

from customers.models import Customer, GroupChat, GroupChatMember, Guide, Relationship, Role
from customers.scope import SEE_ALL, Scope
from sidebar.reads import money, params, rows, when

__all__ = ["Forbidden", "Viewer", "chat_for", "customer_for", "viewer_and_customer", "viewer_of"]


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
    return Viewer(guide.id, guide.userid, guide.name or guide.userid, Role(guide.role), guide.store_id)


async def customer_for(viewer: Viewer, external_userid: str) -> tuple[Customer, Relationship | None]:
    """The customer and the viewer's own active relation with them (None for managers and operators)."""
    return await _customer_for(asyncio.sleep(0, viewer), viewer.userid, external_userid)


async def _viewer_and_customer_row(userid: str, external_userid: str) -> list[dict[str, Any]]:
    p = params()
    return await rows(
        f"""SELECT g.id AS guide_id, g.userid, g.name AS guide_name, g.role, g.store_id,
               c.id, c.external_userid, c.name, c.avatar, c.first_seen_at, c.last_purchase_at, c.order_count,
               c.total_spent, r.id AS relation_id, r.remark AS relation_remark
            FROM guide g
            JOIN customer c ON c.external_userid = {p.add(external_userid)}
            LEFT JOIN relationship r ON r.guide_id = g.id AND r.customer_id = c.id
                 AND r.deleted_by_guide_at IS NULL AND r.deleted_by_customer_at IS NULL
            WHERE g.userid = {p.add(userid)} AND g.active""",
        p,
    )


async def viewer_and_customer(userid: str, external_userid: str) -> tuple[Viewer, Customer, Relationship | None]:
    """``viewer_of`` and ``customer_for`` in one statement (the card's hot path)."""
    found = await _viewer_and_customer_row(userid, external_userid) if external_userid else []
    if not found:
        raise Forbidden(f"{external_userid} unknown, or {userid} not an active member")
    row = found[0]
    viewer = Viewer(row["guide_id"], row["userid"], row["guide_name"] or row["userid"], Role(row["role"]),
                    row["store_id"])
    customer = Customer(
        id=row["id"], external_userid=row["external_userid"], name=row["name"], avatar=row["avatar"],
        first_seen_at=when(row["first_seen_at"]), last_purchase_at=when(row["last_purchase_at"]),
        order_count=row["order_count"], total_spent=money(row["total_spent"]),
    )
    if row["relation_id"] is not None:
        relation = Relationship(id=row["relation_id"], remark=row["relation_remark"], guide_id=viewer.guide_id,
                                customer_id=customer.id)
        return viewer, customer, relation
    await _beyond_own(viewer, customer)
    return viewer, customer, None


async def _beyond_own(viewer: Viewer, customer: Customer) -> None:
    """Not the viewer's own customer: who sees whom is customers/scope.py's answer, as in chat."""
    if not await Scope.of(viewer.userid, viewer.role, viewer.guide_id, viewer.store_id).sees_customer(customer.id):
        raise Forbidden(f"{customer.external_userid} is not a customer of {viewer.userid}")


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
    await _beyond_own(viewer, customer)
    return customer, None


async def chat_for(viewer: Viewer, chat_id: str) -> GroupChat:
    """A customer group the viewer owns or is in (managers: owned by their store; operators: any)."""
    chat = await GroupChat.get_or_none(chat_id=chat_id, dismissed_at=None)
    if chat is None or not chat_id:
        raise Forbidden("unknown group")
    if chat.owner_userid == viewer.userid or viewer.role in SEE_ALL:
        return chat
    if await GroupChatMember.filter(chat_id=chat.id, userid=viewer.userid).exists():
        return chat
    in_store = viewer.role == Role.STORE_MANAGER and viewer.store_id is not None
    if in_store and await Guide.filter(userid=chat.owner_userid, store_id=viewer.store_id).exists():
        return chat
    raise Forbidden(f"{chat_id} is not a group of {viewer.userid}")
