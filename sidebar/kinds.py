"""The sidebar's kinds: the customer card's sections, one registered function each, and the shipped ones.

A section is ``@card_section("id", "标题")`` on ``async (CardContext) -> dict | None``; the page
draws the sections it knows (tags, orders, leads, tasks, notes) and any other as a plain list of
``{"items": [{"text": …, "sub": …}]}`` — so a new feature (predictions, say) adds one function in
its own module, named in its feature's ``card_sections`` (bot/feature.py), and no page change. Every section reads by
customer id through an index; they run concurrently. Their SQL is plain (``sidebar/reads.py``), its
parameters bound through one ``SqlParams`` per statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from bot.deps import Deps
from bot.registry import Registry
from customers.models import Customer, Relationship, TagSource
from leads.config import LEADS
from leads.models import OPEN_STATUSES
from sidebar.access import Viewer
from sidebar.config import Library
from sidebar.reads import money, params, rows, when
from sop.models import TaskStatus
from tagging.config import TAG_RULES
from tagging.report import explain_row

__all__ = ["SECTIONS", "CardContext", "build_card", "card_section", "customer_header", "known_sections"]


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
        return self.library.text("card_today") if days <= 0 else self.library.text("card_days_ago", days=days)


Section = Callable[[CardContext], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True)
class SectionSpec:
    id: str
    title: str
    build: Section
    first: bool = False  # above every other section (the next best action)


SECTIONS: Registry[SectionSpec] = Registry("card section")


def _in_order() -> list[SectionSpec]:
    """The sections in registration order, those registered ``first`` before the others."""
    return sorted(SECTIONS.values(), key=lambda spec: not spec.first)


def card_section(section_id: str, title: str, *, first: bool = False) -> Callable[[Section], Section]:
    """Register a card section (refuses a duplicate id); ``first``: above every other (the next best action)."""

    def register(build: Section) -> Section:
        known = SECTIONS.get(section_id)
        if known is None or known.build is not build:
            SECTIONS.add(section_id, SectionSpec(section_id, title, build, first))
        return build

    return register


def known_sections() -> list[str]:
    """The registered section ids, in the order the card shows them."""
    return [spec.id for spec in _in_order()]


async def customer_header(ctx: CardContext) -> dict[str, Any]:
    """Name, remark, channel and store, how long a contact, who follows them."""
    p = params()
    found = await rows(
        f"""SELECT r.remark, r.state, r.created_at, r.deleted_by_customer_at, r.deleted_by_guide_at, r.guide_id,
                  g.userid AS guide_userid, g.name AS guide_name, ch.name AS channel_name, st.name AS store_name
           FROM relationship r JOIN guide g ON g.id = r.guide_id
           LEFT JOIN channel_code ch ON ch.id = r.channel_id LEFT JOIN store st ON st.id = g.store_id
           WHERE r.customer_id = {p.add(ctx.customer.id)} ORDER BY r.created_at""",
        p,
    )
    mine = next((r for r in found if r["guide_id"] == ctx.viewer.guide_id), found[0] if found else None)
    added = when(mine["created_at"]) if mine else ctx.customer.first_seen_at
    return {
        "external_userid": ctx.customer.external_userid,
        "name": ctx.customer.name,
        "remark": (mine or {}).get("remark") or "",
        "avatar": ctx.customer.avatar,
        "channel": (mine or {}).get("channel_name") or (mine or {}).get("state")
        or ctx.library.text("card_channel_unknown"),
        "store": (mine or {}).get("store_name") or "",
        "added_at": ctx.local(added),
        "contact_days": max(0, (ctx.now - added).days) if added else 0,
        "guides": [{"name": r["guide_name"] or r["guide_userid"], "state": _relation_state(ctx, r),
                    "active": not (r["deleted_by_customer_at"] or r["deleted_by_guide_at"])} for r in found],
    }


async def _nothing() -> list[dict[str, Any]]:
    return []


def _relation_state(ctx: CardContext, row: dict[str, Any]) -> str:
    if row["deleted_by_customer_at"]:
        return ctx.library.text("card_relation_lost")
    return ctx.library.text("card_relation_deleted" if row["deleted_by_guide_at"] else "card_relation_active")


async def build_card(ctx: CardContext) -> dict[str, Any]:
    specs = _in_order()
    header, *built = await asyncio.gather(customer_header(ctx), *(spec.build(ctx) for spec in specs))
    sections = [{"id": spec.id, "title": spec.title, **body} for spec, body in zip(specs, built, strict=True) if body]
    return {"customer": header, "sections": sections}


# --- the shipped sections ------------------------------------------------------------------------


@card_section("tags", "标签")
async def tags(ctx: CardContext) -> dict[str, Any]:
    own_groups = list(ctx.library.guide_tag_groups)
    p, q = params(), params()
    groups, kept = q.in_list(own_groups), q.add(False)  # "kept": not deleted, for both the tag and its group
    found, guide_tags = await asyncio.gather(
        rows(
            f"""SELECT ct.tag_id, t.name AS tag_name, tg.name AS group_name, ct.source, ct.rule_id, ct.evidence,
                      ct.guide_id
               FROM customer_tag ct JOIN tag t ON t.id = ct.tag_id JOIN tag_group tg ON tg.id = t.group_id
               WHERE ct.customer_id = {p.add(ctx.customer.id)} AND ct.removed = {p.add(False)}""",
            p,
        ),
        rows(
            f"""SELECT t.id, t.name, tg.name AS group_name FROM tag t JOIN tag_group tg ON tg.id = t.group_id
                WHERE tg.name IN {groups} AND t.deleted = {kept} AND tg.deleted = {kept}
                ORDER BY t."order", t.id""",
            q,
        ) if ctx.relation is not None and own_groups else _nothing(),
    )
    rules = ctx.deps.config[TAG_RULES]
    by_tag: dict[int, dict[str, Any]] = {}
    for row in sorted(found, key=lambda r: r["guide_id"] != ctx.viewer.guide_id):  # the viewer's rows first
        if row["tag_id"] in by_tag:
            continue
        source = row["source"]
        why = (
            explain_row(rules, row["rule_id"], row["tag_name"], row["evidence"])
            if source == TagSource.RULE
            else ctx.library.text("card_tag_by_guide" if source == TagSource.GUIDE else "card_tag_in_wecom")
        )
        by_tag[row["tag_id"]] = {
            "tag_id": row["tag_id"],
            "name": row["tag_name"],
            "group": row["group_name"],
            "why": why,
            "removable": ctx.relation is not None
            and row["guide_id"] == ctx.viewer.guide_id
            and source != TagSource.RULE
            and row["group_name"] in own_groups,
        }
    addable = [
        {"tag_id": t["id"], "name": t["name"], "group": t["group_name"]} for t in guide_tags if t["id"] not in by_tag
    ]
    return {"tags": sorted(by_tag.values(), key=lambda t: (t["group"], t["name"])), "addable": addable}


@card_section("orders", "订单")
async def orders(ctx: CardContext) -> dict[str, Any]:
    rfm_rules = [rule.id for rule in ctx.deps.config[TAG_RULES].rules if rule.type_name == "rfm"]
    p, q = params(), params()
    last, segment = await asyncio.gather(
        rows(
            f"SELECT order_id, amount, paid_at, store_code FROM orders WHERE customer_id = {p.add(ctx.customer.id)} "
            "ORDER BY paid_at DESC LIMIT 5",
            p,
        ),
        rows(
            f"""SELECT t.name FROM customer_tag ct JOIN tag t ON t.id = ct.tag_id
                WHERE ct.customer_id = {q.add(ctx.customer.id)} AND ct.removed = {q.add(False)}
                AND ct.rule_id IN {q.in_list(rfm_rules)} LIMIT 1""",
            q,
        ) if rfm_rules else _nothing(),
    )
    c = ctx.customer
    count = c.order_count
    return {
        "count": count,
        "total": f"{c.total_spent:,.2f}",
        "average": f"{(c.total_spent / count):,.2f}" if count else "0.00",
        "last_purchase": ctx.ago(c.last_purchase_at) if c.last_purchase_at else "",
        "rfm": segment[0]["name"] if segment else "",
        "last": [
            {"order_id": o["order_id"], "amount": f"{money(o['amount']):,.2f}",
             "paid_at": ctx.local(when(o["paid_at"])), "store": o["store_code"]}
            for o in last
        ],
    }


@card_section("leads", "线索")
async def leads(ctx: CardContext) -> dict[str, Any] | None:
    statuses = [status.value for status in OPEN_STATUSES]
    p = params()
    found = await rows(
        f"""SELECT id, pattern, reason, facts, created_at, guide_userid FROM lead
            WHERE customer_id = {p.add(ctx.customer.id)} AND status IN {p.in_list(statuses)}
            ORDER BY created_at DESC LIMIT 10""",
        p,
    )
    patterns = ctx.deps.config[LEADS].patterns
    return {
        "leads": [
            {
                "id": r["id"],
                "title": patterns[r["pattern"]].title if r["pattern"] in patterns else r["pattern"],
                "reason": r["reason"],
                "facts": _facts(r["facts"]),
                "at": ctx.ago(when(r["created_at"])),
                "mine": r["guide_userid"] == ctx.viewer.userid,
            }
            for r in found
        ]
    }


def _facts(raw: Any) -> list[str]:
    facts = orjson.loads(raw) if isinstance(raw, str | bytes) else (raw or {})
    return [f"{k}: {v}" for k, v in facts.items() if isinstance(v, str | int | float)][:6]


@card_section("tasks", "待办")
async def tasks(ctx: CardContext) -> dict[str, Any]:
    p = params()
    found = await rows(
        "SELECT id, playbook, reason, suggested_text, due_at, guide_id FROM sop_task "
        f"WHERE customer_id = {p.add(ctx.customer.id)} AND status = {p.add(TaskStatus.OPEN.value)} "
        "ORDER BY due_at LIMIT 10",
        p,
    )
    return {
        "tasks": [
            {
                "id": r["id"],
                "reason": r["reason"] or r["playbook"],
                "text": r["suggested_text"],
                "due": ctx.local(when(r["due_at"])),
                "overdue": (when(r["due_at"]) or ctx.now) < ctx.now,
                "mine": r["guide_id"] == ctx.viewer.guide_id,
            }
            for r in found
        ]
    }


@card_section("notes", "跟进记录")
async def notes(ctx: CardContext) -> dict[str, Any]:
    p, q = params(), params()
    found, talked = await asyncio.gather(
        rows(
            f"""SELECT n.id, n.text, n.created_at, g.name AS guide_name, g.userid AS guide_userid
               FROM sidebar_note n JOIN guide g ON g.id = n.guide_id
               WHERE n.customer_id = {p.add(ctx.customer.id)} ORDER BY n.created_at DESC LIMIT 10""",
            p,
        ),
        rows(
            f"SELECT sent_at FROM chat_message WHERE customer_id = {q.add(ctx.customer.id)} "
            "ORDER BY sent_at DESC LIMIT 1",
            q,
        ),
    )
    last_talk = when(talked[0]["sent_at"]) if talked else None
    return {
        "last_talk": ctx.ago(last_talk) if last_talk else "",
        "last_note": ctx.ago(when(found[0]["created_at"])) if found else "",
        "notes": [
            {"id": r["id"], "text": r["text"], "at": ctx.local(when(r["created_at"])),
             "by": r["guide_name"] or r["guide_userid"]}
            for r in found
        ],
    }
