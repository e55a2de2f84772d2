"""One-tap writes from the sidebar. Each checks access first and leaves a ``sidebar_audit`` row
(a refused one gets its row from the view, which sees every ``Forbidden``).

The views call these with a ``Viewer`` and the ids the page sent; nothing here trusts those ids
beyond what ``access`` allowed (a task must be the viewer's, a lead the viewer's, a tag one of
the guide-settable groups on the viewer's own relation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from bot.deps import Deps
from customers.models import Customer, CustomerTag, GroupChat, Relationship, Tag, TagSource
from leads.models import OPEN_STATUSES, Lead, LeadStatus
from sidebar.access import Forbidden, Viewer
from sidebar.config import Library
from sidebar.materials import media_id_for
from sidebar.models import ScriptSend, SidebarAudit, SidebarNote
from sop.models import SopTask, TaskStatus
from sop.service import Completion, complete_task

__all__ = [
    "BadAction",
    "add_note",
    "audit",
    "change_tag",
    "confirm_send",
    "lead_action",
    "prepare_send",
    "task_done",
]

log = structlog.get_logger(__name__)

NOTE_MAX = 500
LEAD_ACTIONS = {"contacted": LeadStatus.CONTACTED, "dismiss": LeadStatus.DISMISSED}


class BadAction(Exception):
    """A well-formed request that cannot be done (unknown item, empty note…): 400 with the guide's text
    ``key`` of config/sidebar.yaml's ``texts`` (filled with ``values``); the English reason goes to the log."""

    def __init__(self, reason: str, key: str = "bad_request", **values: Any) -> None:
        super().__init__(reason)
        self.key, self.values = key, values


async def audit(deps: Deps, viewer: Viewer, action: str, external_userid: str, target: str, result: str = "ok") -> None:
    await SidebarAudit.create(
        userid=viewer.userid, action=action, external_userid=external_userid, target=target[:96], result=result,
        created_at=deps.clock.now(),
    )


async def task_done(deps: Deps, viewer: Viewer, customer: Customer, task_id: int) -> str:
    if not await SopTask.filter(id=task_id, customer_id=customer.id, guide_id=viewer.guide_id).exists():
        raise Forbidden(f"task {task_id} is not {viewer.userid}'s for this customer")
    done = await complete_task(deps, viewer.userid, task_id, "sidebar")
    await audit(deps, viewer, "task_done", customer.external_userid, str(task_id), done.outcome.value)
    return "done" if done.outcome in (Completion.DONE, Completion.ALREADY) else done.outcome.value


async def lead_action(deps: Deps, viewer: Viewer, customer: Customer, lead_id: int, action: str) -> str:
    target = LEAD_ACTIONS.get(action)
    if target is None:
        raise BadAction(f"unknown lead action {action!r}")
    lead = await Lead.get_or_none(id=lead_id, customer_id=customer.id)
    if lead is None or lead.guide_userid != viewer.userid:
        raise Forbidden(f"lead {lead_id} is not {viewer.userid}'s")
    now = deps.clock.now()
    changes: dict[str, Any] = {"status": target, "action_at": now}
    if target is LeadStatus.CONTACTED:
        changes["contacted_at"] = now
    moved = await Lead.filter(id=lead_id, status__in=list(OPEN_STATUSES)).update(**changes)
    await audit(deps, viewer, f"lead_{action}", customer.external_userid, str(lead_id), "ok" if moved else "already")
    log.info("sidebar_lead_action", lead_id=lead_id, action=action, by=viewer.userid, moved=bool(moved))
    return "ok" if moved else "already"


async def add_note(deps: Deps, viewer: Viewer, customer: Customer, text: str) -> int:
    text = text.strip()
    if not text:
        raise BadAction("empty note", "bad_note_empty")
    if len(text) > NOTE_MAX:
        raise BadAction(f"a note is at most {NOTE_MAX} characters", "bad_note_too_long", count=NOTE_MAX)
    note = await SidebarNote.create(customer_id=customer.id, guide_id=viewer.guide_id, text=text,
                                    created_at=deps.clock.now())
    await audit(deps, viewer, "note", customer.external_userid, str(note.id))
    return int(note.id)


async def change_tag(
    deps: Deps, viewer: Viewer, customer: Customer, relation: Relationship | None, library: Library, tag_id: int,
    *, add: bool,
) -> str:
    """Add or remove one of the guide's own tags: ``mark_tag`` in WeCom first, then our mirror."""
    action = "tag_add" if add else "tag_remove"
    tag = await Tag.get_or_none(id=tag_id, deleted=False).prefetch_related("group")
    if relation is None or tag is None or tag.group.name not in library.guide_tag_groups:
        raise Forbidden("only the guide's own tags on their own customer")
    existing = await CustomerTag.get_or_none(customer_id=customer.id, guide_id=viewer.guide_id, tag_id=tag.id)
    if existing is not None and existing.source == TagSource.RULE:
        raise BadAction("a rule's tag is set by its rule", "bad_rule_tag")
    if add == (existing is not None and not existing.removed):
        await audit(deps, viewer, action, customer.external_userid, tag.name, "already")
        return "already"
    await deps.wecom.mark_tag(
        viewer.userid, customer.external_userid, add=[tag.wecom_id] if add else [], remove=[] if add else [tag.wecom_id]
    )
    if add:
        await CustomerTag.update_or_create(
            {"source": TagSource.GUIDE, "rule_id": "", "in_wecom": True, "removed": False},
            customer_id=customer.id, guide_id=viewer.guide_id, tag_id=tag.id,
        )
    else:
        await CustomerTag.filter(customer_id=customer.id, guide_id=viewer.guide_id, tag_id=tag.id).delete()
    await audit(deps, viewer, action, customer.external_userid, tag.name)
    return "ok"


@dataclass(frozen=True, slots=True)
class Prepared:
    send_id: int
    message: dict[str, Any]  # sendChatMessage's argument


async def _message(deps: Deps, viewer: Viewer, library: Library, item_id: str, values: dict[str, str],
                   customer: Customer | None) -> dict[str, Any]:
    if item_id.startswith("task:"):
        digits = item_id[5:]  # ASCII digits only ("²" is a digit to Python), and small enough to be an id
        task_id = int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 9 else 0
        task = await SopTask.get_or_none(id=task_id, guide_id=viewer.guide_id, status=TaskStatus.OPEN)
        if task is None or customer is None or task.customer_id != customer.id:
            raise Forbidden(f"task {task_id} is not {viewer.userid}'s for this customer")
        if not task.suggested_text:
            raise BadAction("this task has no suggested text", "bad_task_no_text")
        return {"msgtype": "text", "text": {"content": task.suggested_text}}
    item = library.items.get(item_id)
    if item is None:
        raise BadAction(f"no library item {item_id!r}", "bad_library_item")
    if item.kind == "text":
        return {"msgtype": "text", "text": {"content": item.render(values)}}
    if item.kind in ("image", "file"):
        return {"msgtype": item.kind, item.kind: {"mediaid": await media_id_for(deps, item)}}
    if item.kind == "link":
        return {"msgtype": "news", "news": {"link": item.url, "title": item.title, "desc": item.desc,
                                            "imgUrl": item.image_url}}
    return {"msgtype": "miniprogram", "miniprogram": {"appid": item.appid, "title": item.title,
                                                      "imgUrl": item.image_url, "page": item.page}}


async def prepare_send(
    deps: Deps, viewer: Viewer, library: Library, item_id: str, *,
    customer: Customer | None = None, relation: Relationship | None = None, chat: GroupChat | None = None,
    store_name: str = "",
) -> Prepared:
    """The message to put in the chat, rendered for this customer, and a row that counts it."""
    name = (relation.remark if relation and relation.remark else "") or (customer.name if customer else "")
    values = {"name": name, "guide": viewer.name, "store": store_name}
    message = await _message(deps, viewer, library, item_id, values, customer)
    send = await ScriptSend.create(
        script_id=item_id[:64], guide_userid=viewer.userid, customer_id=customer.id if customer else None,
        chat_id=chat.chat_id if chat else "", created_at=deps.clock.now(),
    )
    await audit(deps, viewer, "send_prepare", customer.external_userid if customer else "", item_id)
    return Prepared(int(send.id), message)


async def confirm_send(deps: Deps, viewer: Viewer, send_id: int, status: str) -> str:
    """The client said how it went: ``sent`` or ``cancelled`` (only the viewer's own, prepared row)."""
    if status not in ("sent", "cancelled"):
        raise BadAction(f"unknown status {status!r}")
    changes: dict[str, Any] = {"status": status}
    if status == "sent":
        changes["sent_at"] = deps.clock.now()
    moved = await ScriptSend.filter(id=send_id, guide_userid=viewer.userid, status="prepared").update(**changes)
    await audit(deps, viewer, f"send_{status}", "", str(send_id), "ok" if moved else "already")
    return "ok" if moved else "already"
