"""Customers: contact and group-chat events, orders and chat messages from intake, the corp tag
library, and the 客户 / 同步客户 commands."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.commands import (
    CUSTOMER,
    EVERYONE,
    OPERATORS,
    Arg,
    Call,
    command,
    say,
    send_to_member,
)
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.features import attributes
from bot.publish import publish
from customers import groupchats, service
from customers.backfill import backfill_contacts
from customers.events import ORDER, customer_changed
from customers.models import ChatMessage, Customer, Relationship
from customers.orders import OrderIn, OrderLine, record_orders
from customers.org import apply_org
from customers.service import utc_from_unix
from customers.tags import sync_corp_tags
from operators.jobs import BackfillRequested, job_lease, start_once
from tagging.explain import explain_customer

router = Router("customers")

# More lines for the 客户 profile (e.g. open tasks, leads): one function each, named by its
# feature's ``profile`` in bot/features.py.
ProfileSection = Callable[[Deps, Customer], Awaitable[list[str]]]


EVENT = "change_external_contact"


RECORD = "contact_added"  # the internal event that records an add


def event_time(event: Event, deps: Deps) -> datetime:
    return service.utc_from_unix(event.get("CreateTime")) or deps.clock.now()


def contact_added(event: Event, deps: Deps, *, half: bool) -> service.ContactAdded:
    return service.ContactAdded(
        userid=event.get("UserID"),
        external_userid=event.get("ExternalUserID"),
        at=event_time(event, deps),
        state=event.get("State"),
        welcome_code=event.get("WelcomeCode"),
        half=half,
    )


async def changed(deps: Deps, event: Event, customer_id: int | None) -> None:
    """Tell tagging, SOP and leads (through the queue) that this customer's data changed."""
    await customer_changed(deps, customer_id, event.route[2], event.key)


async def welcome_and_queue_record(event: Event, deps: Deps, *, half: bool) -> None:
    added = contact_added(event, deps, half=half)
    contact = await service.fetch_added_contact(deps, added)
    if contact is None:
        return
    # external_userid at the top: the worker keeps this customer's events in order by it.
    record = {"external_userid": added.external_userid, "added": added.to_payload(), "contact": contact}
    await publish(deps, RECORD, record, event.key)
    await service.welcome_added(deps, added, contact)


@router.event(EVENT, "add_external_contact")
async def on_add_external_contact(event: Event, deps: Deps) -> None:
    await welcome_and_queue_record(event, deps, half=False)


@router.event(EVENT, "add_half_external_contact")
async def on_add_half_external_contact(event: Event, deps: Deps) -> None:
    await welcome_and_queue_record(event, deps, half=True)


@router.on("internal", RECORD)
async def on_contact_added(event: Event, deps: Deps) -> None:
    added = service.ContactAdded.from_payload(event.body["added"])
    customer = await service.record_added(deps, added, event.body["contact"])
    await customer_changed(deps, customer.id, added.cause, event.key)


@router.event(EVENT, "edit_external_contact")
async def on_edit_external_contact(event: Event, deps: Deps) -> None:
    customer_id = await service.contact_edited(
        deps, event.get("UserID"), event.get("ExternalUserID"), event_time(event, deps)
    )
    await changed(deps, event, customer_id)


@router.event(EVENT, "del_external_contact")
async def on_del_external_contact(event: Event, deps: Deps) -> None:
    customer_id = await service.guide_removed_customer(
        event.get("UserID"), event.get("ExternalUserID"), event_time(event, deps), event.get("Source")
    )
    await changed(deps, event, customer_id)


@router.event(EVENT, "del_follow_user")
async def on_del_follow_user(event: Event, deps: Deps) -> None:
    customer_id = await service.customer_removed_guide(
        deps, event.get("UserID"), event.get("ExternalUserID"), event_time(event, deps), event.key
    )
    await changed(deps, event, customer_id)


@router.event(EVENT, "transfer_fail")
async def on_transfer_fail(event: Event, deps: Deps) -> None:
    await service.transfer_failed(event.get("UserID"), event.get("ExternalUserID"), event.get("FailReason"))


EVENT = "change_external_chat"


@router.event(EVENT, "create")
@router.event(EVENT, "update")
async def on_chat_changed(event: Event, deps: Deps) -> None:
    # The event says what changed, not the new state: groupchat/get is the truth.
    await groupchats.refresh_chat(deps, event.get("ChatId"))


@router.event(EVENT, "dismiss")
async def on_chat_dismissed(event: Event, deps: Deps) -> None:
    await groupchats.chat_dismissed(event.get("ChatId"), utc_from_unix(event.get("CreateTime")) or deps.clock.now())


@router.on("order")
async def on_order(event: Event, deps: Deps) -> None:
    body = event.body
    lines = tuple(
        OrderLine(i["product_id"], i["product_name"], i["category"], int(i["quantity"]), Decimal(i["price"]))
        for i in body.get("items", [])
    )
    order = OrderIn(
        body["order_id"],
        Decimal(body["amount"]),
        datetime.fromisoformat(body["paid_at"]),
        body.get("external_userid", ""),
        body.get("unionid", ""),
        body.get("store_code", ""),
        body.get("guide_userid", ""),
        "intake",
        lines,
        str(body.get("_sender", "")),
    )
    for customer_id in await record_orders([order]):
        await customer_changed(deps, customer_id, ORDER, event.key)


@router.on("chat")
async def on_chat_archive_message(event: Event, deps: Deps) -> None:
    body = event.body
    customer = await Customer.get_or_none(external_userid=body["external_userid"])
    await ChatMessage.get_or_create(
        msg_id=f"archive:{body['msg_id']}",
        defaults={
            "source": "archive",
            "from_id": body["from"],
            "customer_id": customer.id if customer else None,
            "content": body["content"],
            "sent_at": datetime.fromisoformat(body["sent_at"]),
        },
    )
    if customer is not None:
        await customer_changed(deps, customer.id, "message", event.key)


@router.message("text")
async def on_app_text(event: Event, deps: Deps) -> None:
    # A member wrote to the app (chat commands read these too): kept for keyword rules and audit.
    await ChatMessage.get_or_create(
        msg_id=f"app:{event.get('MsgId')}",
        defaults={
            "source": "app",
            "from_id": event.get("FromUserName"),
            "content": event.get("Content"),
            "sent_at": utc_from_unix(event.get("CreateTime")) or deps.clock.now(),
        },
    )


async def apply_configured_org(deps: Deps) -> None:
    """At start, in every process (bot/features.py ``startup``): config/org.yaml into the database."""
    await apply_org(deps.config.org)


async def sync_corp_tags_at_start(deps: Deps) -> None:
    """When a worker starts (``worker_startup``): mirror the corp's tags, once per 10-minute window."""
    if deps.settings.scrm_sync_tags_on_start:
        await publish(deps, "sync_corp_tags", {}, str(int(deps.clock.timestamp() // 600)))


@router.on("internal", "sync_corp_tags")
@router.event("change_external_tag")
async def on_corp_tags_changed(event: Event, deps: Deps) -> None:
    # create / update / delete / shuffle alike: one get_corp_tag_list keeps the mirror exact,
    # including tags deleted in WeCom (absent from the list → marked deleted here).
    await sync_corp_tags(deps)


@command("客户", "customer", "查客户", args=[Arg("名字|id", CUSTOMER)], roles=EVERYONE,
         help="客户档案：来源渠道、标签及原因、最近购买")
async def customer(call: Call) -> str:
    found: Customer = call.args["名字|id"]
    zone = ZoneInfo(call.deps.settings.scrm_timezone)
    relations = await Relationship.filter(customer_id=found.id).prefetch_related("guide", "channel")
    lines = [f"客户：{found.name or '-'}（{found.external_userid}）"]
    for r in relations:
        status = "已流失" if r.deleted_by_customer_at else ("已删除" if r.deleted_by_guide_at else "在联")
        channel = r.channel.name if r.channel else (r.state or "未知")
        added = r.created_at.astimezone(zone)
        lines.append(f"导购 {r.guide.name or r.guide.userid}：来源 {channel}，添加于 {added:%Y-%m-%d}（{status}）")
    if found.last_purchase_at is not None:
        lines.append(f"最近购买：{found.last_purchase_at.astimezone(zone):%Y-%m-%d}，累计 {found.order_count} 单 "
                     f"¥{found.total_spent:,.2f}")
    else:
        lines.append("最近购买：暂无购买记录")
    lines.append("标签：")
    lines += (await explain_customer(call.deps.config.tag_rules, found.external_userid))[1:]
    section: ProfileSection
    for section in attributes("profile"):
        lines += await section(call.deps, found)
    return call.say("cmd_customer", lines="\n".join(lines))


@command("同步客户", "sync", "backfill", roles=OPERATORS, help="从企业微信全量同步客户（可断点续传）")
async def sync(call: Call) -> str:
    return await start_once(call, BackfillRequested, "cmd_sync_started", "同步客户")


@router.internal(BackfillRequested)
async def on_backfill_requested(request: BackfillRequested, deps: Deps, key: str) -> None:
    async with job_lease(deps, request):
        result = await backfill_contacts(deps)
    text = say(deps, "cmd_sync_done", job=request.job, members=result.members, contacts=result.contacts)
    await send_to_member(deps, request.userid, text, f"job:{request.job}:done")
