"""What the sidebar's views call: one function per request, plain inputs, plain answers.

``Sidebar`` holds what the process built once (the session signer, the tickets); the library is
the running config's (``deps.config[LIBRARY]``). The functions take the guide's userid from the
session (never from the page) and check access before reading or writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from bot.deps import Deps
from customers.models import Customer, GroupChatMember, Guide, Store
from groups.sidebar import group_view, step_sent
from sidebar import actions
from sidebar.access import Viewer, chat_for, customer_for, viewer_and_customer, viewer_of
from sidebar.config import LIBRARY, Library
from sidebar.jssdk import KINDS, SignedConfig, TicketKind, Tickets, sign_page
from sidebar.kinds import CardContext, build_card
from sidebar.models import SidebarAudit
from sidebar.session import SessionSigner
from sop.models import SopTask, TaskStatus

__all__ = [
    "ID_MAX", "Sidebar", "audit_refused", "confirm_sent", "group_card", "group_step_sent", "library_items",
    "open_card", "run_action", "send_item", "sign",
]


@dataclass(frozen=True, slots=True)
class Sidebar:
    deps: Deps
    signer: SessionSigner
    tickets: Tickets


async def _context(sb: Sidebar, userid: str, external_userid: str) -> CardContext:
    viewer, customer, relation = await viewer_and_customer(userid, external_userid)
    return CardContext(
        sb.deps, viewer, customer, relation, sb.deps.config[LIBRARY], sb.deps.clock.now(),
        ZoneInfo(sb.deps.settings.scrm_timezone),
    )


async def sign(sb: Sidebar, userid: str, url: str, renew_kind: str = "", renew_fp: str = "") -> SignedConfig:
    """Signatures for a member we know (a ticket is the corp's: strangers spend none of it)."""
    viewer = await viewer_of(userid)
    renew: dict[TicketKind, str] = {kind: renew_fp for kind in KINDS if kind == renew_kind and renew_fp}
    return await sign_page(sb.deps, sb.tickets, url, renew, userid=viewer.userid)


async def open_card(sb: Sidebar, userid: str, external_userid: str) -> dict[str, Any]:
    # One connection for the dozen small reads: a pooled connection per read costs a reset round
    # trip on every release, more than the reads themselves (bench/sidebar.py).
    async with in_transaction():
        return await build_card(await _context(sb, userid, external_userid))


async def group_card(sb: Sidebar, userid: str, chat_id: str) -> dict[str, Any]:
    """A customer group: its owner, the customers in it, their open tasks (the viewer's)."""
    viewer = await viewer_of(userid)
    chat = await chat_for(viewer, chat_id)
    library = sb.deps.config[LIBRARY]
    owner = await Guide.get_or_none(userid=chat.owner_userid).values("name", "userid")
    external = await GroupChatMember.filter(chat_id=chat.id, type=2).values_list("userid", flat=True)
    customers = await Customer.filter(external_userid__in=list(external)).values(
        "id", "external_userid", "name", "order_count", "last_purchase_at"
    )
    by_id = {c["id"]: c for c in customers}
    tasks = await SopTask.filter(
        customer_id__in=list(by_id), guide_id=viewer.guide_id, status=TaskStatus.OPEN
    ).order_by("due_at").limit(20).values("id", "customer_id", "reason", "suggested_text")
    return {
        "chat": {"chat_id": chat.chat_id, "name": chat.name or library.text("card_group_name"),
                 "member_count": chat.member_count,
                 "owner": (owner or {}).get("name") or chat.owner_userid},
        "customers": [
            {"external_userid": c["external_userid"], "name": c["name"], "orders": c["order_count"]}
            for c in customers
        ],
        "tasks": [
            {"id": t["id"], "customer": by_id[t["customer_id"]]["name"], "reason": t["reason"],
             "text": t["suggested_text"]}
            for t in tasks
        ],
        # The group's code, its size against the full mark, and the group steps due for it (groups/).
        "group": await group_view(sb.deps, viewer.userid, chat.chat_id, chat.member_count),
    }


async def group_step_sent(sb: Sidebar, userid: str, push_id: int, chat_id: str) -> bool:
    """The viewer sent a group step's text into one of their groups (groups/sidebar.py)."""
    viewer = await viewer_of(userid)
    chat = await chat_for(viewer, chat_id)
    return await step_sent(sb.deps, viewer.userid, push_id, chat.chat_id)


async def _store_name(viewer: Viewer) -> str:
    if viewer.store_id is None:
        return ""
    store = await Store.get_or_none(id=viewer.store_id).values("name")
    return str(store["name"]) if store else ""


async def library_items(sb: Sidebar, userid: str, query: str, external_userid: str = "") -> dict[str, Any]:
    """The library, searched, texts rendered for this customer (or with blanks in a group)."""
    viewer = await viewer_of(userid)
    library: Library = sb.deps.config[LIBRARY]
    name = ""
    if external_userid:
        customer, relation = await customer_for(viewer, external_userid)
        name = (relation.remark if relation and relation.remark else "") or customer.name
    values = {"name": name, "guide": viewer.name, "store": await _store_name(viewer)}
    return {
        "items": [
            {"id": item.id, "group": item.group, "title": item.title, "kind": item.kind,
             "preview": item.render(values) if item.kind == "text" else (item.desc or item.title)}
            for item in library.search(query)
        ]
    }


async def send_item(sb: Sidebar, userid: str, item_id: str, *, external_userid: str = "", chat_id: str = "") -> Any:
    viewer = await viewer_of(userid)
    library = sb.deps.config[LIBRARY]
    store = await _store_name(viewer)
    if chat_id:
        chat = await chat_for(viewer, chat_id)
        return await actions.prepare_send(sb.deps, viewer, library, item_id, chat=chat, store_name=store)
    customer, relation = await customer_for(viewer, external_userid)
    return await actions.prepare_send(
        sb.deps, viewer, library, item_id, customer=customer, relation=relation, store_name=store
    )


async def audit_refused(sb: Sidebar, userid: str, action: str) -> None:
    """A write ``access`` refused: its audit row (the action's own functions audit what they did)."""
    await SidebarAudit.create(userid=userid, action=action, result="refused", created_at=sb.deps.clock.now())


async def confirm_sent(sb: Sidebar, userid: str, send_id: int, status: str) -> str:
    return await actions.confirm_send(sb.deps, await viewer_of(userid), send_id, status)


async def run_action(sb: Sidebar, userid: str, external_userid: str, action: str, body: dict[str, Any]) -> Any:
    """``task_done`` / ``lead`` / ``note`` / ``tag_add`` / ``tag_remove`` on this customer."""
    ctx = await _context(sb, userid, external_userid)
    deps, viewer, customer = sb.deps, ctx.viewer, ctx.customer
    if action == "task_done":
        return await actions.task_done(deps, viewer, customer, _int(body, "task_id"))
    if action == "lead":
        return await actions.lead_action(deps, viewer, customer, _int(body, "lead_id"), str(body.get("do", "")))
    if action == "note":
        return await actions.add_note(deps, viewer, customer, str(body.get("text", "")))
    if action in ("tag_add", "tag_remove"):
        return await actions.change_tag(
            deps, viewer, customer, ctx.relation, ctx.library, _int(body, "tag_id"), add=action == "tag_add"
        )
    raise actions.BadAction(f"unknown action {action!r}")


ID_MAX = 2**31 - 1  # the largest id a row can have: a larger number names nothing


def _int(body: dict[str, Any], name: str) -> int:
    """An id the page sent: a positive int, or ASCII digits ("²" and "９" are digits to Python)."""
    value = body.get(name)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= ID_MAX:
        raise actions.BadAction(f"{name} must be a number")
    return value
