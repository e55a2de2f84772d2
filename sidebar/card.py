"""The customer card: who this customer is and what to say next, one registered function per section.

A section is ``@card_section("id", "标题")`` on ``async (CardContext) -> dict | None``; the page
draws the sections it knows (tags, orders, leads, tasks, notes) and any other as a plain list of
``{"items": [{"text": …, "sub": …}]}`` — so a new feature (predictions, say) adds one function in
its own module, imported by ``sidebar.sections``, and no page change. Every section reads by
customer id through an index; they run concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.deps import Deps
from bot.models.customers import Customer, CustomerTag, Relationship, Tag, TagSource
from bot.models.facts import ChatMessage, Order
from leads.models import OPEN_STATUSES, Lead
from sidebar.access import Viewer
from sidebar.library import Library
from sidebar.models import SidebarNote
from sop.models import SopTask, TaskStatus
from tagging.explain import explain_row

__all__ = ["SECTIONS", "CardContext", "build_card", "card_section", "customer_header"]


@dataclass(frozen=True, slots=True)
class CardContext:
    deps: Deps
    viewer: Viewer
    customer: Customer
    relation: Relationship | None  # the viewer's own relation (None for managers and operators)
    library: Library
    now: datetime
    zone: ZoneInfo

    def local(self, moment: datetime | None) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M") if moment else ""

    def ago(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        days = (self.now - moment).days
        return "今天" if days <= 0 else f"{days}天前"


Section = Callable[[CardContext], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class SectionSpec:
    id: str
    title: str
    build: Section


SECTIONS: dict[str, SectionSpec] = {}


def card_section(section_id: str, title: str) -> Callable[[Section], Section]:
    """Register a card section (refuses a duplicate id)."""

    def register(build: Section) -> Section:
        if section_id in SECTIONS:
            raise ValueError(f"card section {section_id!r} is already registered")
        SECTIONS[section_id] = SectionSpec(section_id, title, build)
        return build

    return register


async def customer_header(ctx: CardContext) -> dict[str, Any]:
    """Name, remark, channel and store, how long a contact, who follows them."""
    rows = await Relationship.filter(customer_id=ctx.customer.id).order_by("created_at").values(
        "remark", "state", "created_at", "deleted_by_customer_at", "deleted_by_guide_at", "guide_id",
        "guide__userid", "guide__name", "channel__name", "guide__store__name",
    )
    mine = next((r for r in rows if r["guide_id"] == ctx.viewer.guide_id), rows[0] if rows else None)
    added = mine["created_at"] if mine else ctx.customer.first_seen_at
    return {
        "external_userid": ctx.customer.external_userid,
        "name": ctx.customer.name,
        "remark": (mine or {}).get("remark") or "",
        "avatar": ctx.customer.avatar,
        "channel": (mine or {}).get("channel__name") or (mine or {}).get("state") or "未知",
        "store": (mine or {}).get("guide__store__name") or "",
        "added_at": ctx.local(added),
        "contact_days": max(0, (ctx.now - added).days) if added else 0,
        "guides": [
            {
                "name": r["guide__name"] or r["guide__userid"],
                "state": _relation_state(r),
            }
            for r in rows
        ],
    }


def _relation_state(row: dict[str, Any]) -> str:
    if row["deleted_by_customer_at"]:
        return "已流失"
    return "已删除" if row["deleted_by_guide_at"] else "在联"


async def build_card(ctx: CardContext) -> dict[str, Any]:
    specs = list(SECTIONS.values())
    header, *built = await asyncio.gather(customer_header(ctx), *(spec.build(ctx) for spec in specs))
    sections = [{"id": spec.id, "title": spec.title, **body} for spec, body in zip(specs, built, strict=True) if body]
    return {"customer": header, "sections": sections}


# --- the shipped sections ------------------------------------------------------------------------


async def _nothing() -> list[dict[str, Any]]:
    return []


async def _none() -> None:
    return None


@card_section("tags", "标签")
async def tags(ctx: CardContext) -> dict[str, Any]:
    own_groups = set(ctx.library.guide_tag_groups)
    rows, guide_tags = await asyncio.gather(
        CustomerTag.filter(customer_id=ctx.customer.id, removed=False).values(
            "tag_id", "tag__name", "tag__group__name", "source", "rule_id", "evidence", "guide_id",
        ),
        Tag.filter(group__name__in=list(own_groups), deleted=False, group__deleted=False)
        .order_by("order", "id").values("id", "name", "group__name")
        if ctx.relation is not None and own_groups else _nothing(),
    )
    rules = ctx.deps.config.tag_rules
    by_tag: dict[int, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["guide_id"] != ctx.viewer.guide_id):  # the viewer's rows first
        if row["tag_id"] in by_tag:
            continue
        source = row["source"]
        why = (
            explain_row(rules, row["rule_id"], row["tag__name"], row["evidence"])
            if source == TagSource.RULE
            else ("导购标记" if source == TagSource.GUIDE else "在企业微信中设置")
        )
        by_tag[row["tag_id"]] = {
            "tag_id": row["tag_id"],
            "name": row["tag__name"],
            "group": row["tag__group__name"],
            "why": why,
            "removable": ctx.relation is not None
            and row["guide_id"] == ctx.viewer.guide_id
            and source != TagSource.RULE
            and row["tag__group__name"] in own_groups,
        }
    addable = [
        {"tag_id": t["id"], "name": t["name"], "group": t["group__name"]} for t in guide_tags if t["id"] not in by_tag
    ]
    return {"tags": sorted(by_tag.values(), key=lambda t: (t["group"], t["name"])), "addable": addable}


@card_section("orders", "订单")
async def orders(ctx: CardContext) -> dict[str, Any]:
    rfm_rules = [rule.id for rule in ctx.deps.config.tag_rules.rules if rule.type_name == "rfm"]
    last, found = await asyncio.gather(
        Order.filter(customer_id=ctx.customer.id).order_by("-paid_at").limit(5).values(
            "order_id", "amount", "paid_at", "store_code"
        ),
        CustomerTag.filter(customer_id=ctx.customer.id, removed=False, rule_id__in=rfm_rules).first().values(
            "tag__name"
        ) if rfm_rules else _none(),
    )
    segment = found["tag__name"] if found else ""
    c = ctx.customer
    count = c.order_count
    return {
        "count": count,
        "total": f"{c.total_spent:,.2f}",
        "average": f"{(c.total_spent / count):,.2f}" if count else "0.00",
        "last_purchase": ctx.ago(c.last_purchase_at) if c.last_purchase_at else "",
        "rfm": segment,
        "last": [
            {"order_id": o["order_id"], "amount": f"{o['amount']:,.2f}", "paid_at": ctx.local(o["paid_at"]),
             "store": o["store_code"]}
            for o in last
        ],
    }


@card_section("leads", "线索")
async def leads(ctx: CardContext) -> dict[str, Any] | None:
    rows = await Lead.filter(customer_id=ctx.customer.id, status__in=list(OPEN_STATUSES)).order_by(
        "-created_at"
    ).limit(10).values("id", "pattern", "reason", "facts", "created_at", "guide_userid")
    patterns = ctx.deps.config.leads.patterns
    return {
        "leads": [
            {
                "id": r["id"],
                "title": patterns[r["pattern"]].title if r["pattern"] in patterns else r["pattern"],
                "reason": r["reason"],
                "facts": [f"{k}: {v}" for k, v in (r["facts"] or {}).items() if isinstance(v, str | int | float)][:6],
                "at": ctx.ago(r["created_at"]),
                "mine": r["guide_userid"] == ctx.viewer.userid,
            }
            for r in rows
        ]
    }


@card_section("tasks", "待办")
async def tasks(ctx: CardContext) -> dict[str, Any]:
    rows = await SopTask.filter(customer_id=ctx.customer.id, status=TaskStatus.OPEN).order_by("due_at").limit(
        10
    ).values("id", "playbook", "reason", "suggested_text", "due_at", "guide_id")
    return {
        "tasks": [
            {
                "id": r["id"],
                "reason": r["reason"] or r["playbook"],
                "text": r["suggested_text"],
                "due": ctx.local(r["due_at"]),
                "overdue": r["due_at"] < ctx.now,
                "mine": r["guide_id"] == ctx.viewer.guide_id,
            }
            for r in rows
        ]
    }


@card_section("notes", "跟进记录")
async def notes(ctx: CardContext) -> dict[str, Any]:
    rows, talked = await asyncio.gather(
        SidebarNote.filter(customer_id=ctx.customer.id).order_by("-created_at").limit(10).values(
            "id", "text", "created_at", "guide__name", "guide__userid"
        ),
        ChatMessage.filter(customer_id=ctx.customer.id).order_by("-sent_at").first().values("sent_at"),
    )
    last_talk = talked["sent_at"] if talked else None
    return {
        "last_talk": ctx.ago(last_talk) if last_talk else "",
        "last_note": ctx.ago(rows[0]["created_at"]) if rows else "",
        "notes": [
            {"id": r["id"], "text": r["text"], "at": ctx.local(r["created_at"]),
             "by": r["guide__name"] or r["guide__userid"]}
            for r in rows
        ],
    }
