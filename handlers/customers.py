"""Customers: contact and group-chat events, orders and chat messages from intake, the corp tag
library, and the 客户 / 同步客户 commands."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bot.commands import Arg, Call
from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from customers import adds, chat, delivery, groupchats, service
from customers.config import ORG
from customers.events import (
    MESSAGE,
    ORDER,
    ContactToRecord,
    CorpTagSyncRequested,
    corp_tag_sync_requested,
    customer_changed,
)
from customers.lookup import CUSTOMER
from customers.messages import ArchivedMessage, record_app_text, record_archived
from customers.models import Customer
from customers.orders import OrderIn, OrderLine, record_orders
from customers.service import AddCause, ContactAdded, apply_org, utc_from_unix
from customers.tags import sync_corp_tags
from operators.jobs import BackfillRequested, start_once
from operators.roles import EVERYONE, OPERATORS

router = Router("customers")


EVENT = "change_external_contact"


def event_time(event: Event, deps: Deps) -> datetime:
    return service.utc_from_unix(event.get("CreateTime")) or deps.clock.now()


def contact_added(event: Event, deps: Deps, cause: AddCause) -> ContactAdded:
    return ContactAdded(
        userid=event.get("UserID"),
        external_userid=event.get("ExternalUserID"),
        at=event_time(event, deps),
        state=event.get("State"),
        welcome_code=event.get("WelcomeCode"),
        cause=cause,
    )


async def changed(deps: Deps, event: Event, customer_id: int | None) -> None:
    """Tell tagging, SOP and leads (through the queue) that this customer's data changed."""
    await customer_changed(deps, customer_id, event.route[2], event.key)


@router.event(EVENT, AddCause.ADDED)
async def on_add_external_contact(event: Event, deps: Deps) -> None:
    await adds.contact_added(deps, contact_added(event, deps, AddCause.ADDED), event.key)


@router.event(EVENT, AddCause.HALF)
async def on_add_half_external_contact(event: Event, deps: Deps) -> None:
    await adds.contact_added(deps, contact_added(event, deps, AddCause.HALF), event.key)


@router.internal(ContactToRecord)
async def on_contact_added(record: ContactToRecord, deps: Deps, key: str) -> None:
    await adds.record_contact(deps, record, key)


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
    at = event_time(event, deps)
    removal = await service.customer_removed_guide(event.get("UserID"), event.get("ExternalUserID"), at)
    await delivery.alert_lost(deps, removal, at, event.key)
    await changed(deps, event, removal.customer_id)


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
    message = ArchivedMessage(
        body["msg_id"], body["external_userid"], body["from"], body["content"], datetime.fromisoformat(body["sent_at"])
    )
    await customer_changed(deps, await record_archived(message), MESSAGE, event.key)


@router.message("text")
async def on_app_text(event: Event, deps: Deps) -> None:
    # A member wrote to the app (chat commands read these too): kept for keyword rules and audit.
    at = utc_from_unix(event.get("CreateTime")) or deps.clock.now()
    await record_app_text(event.get("MsgId"), event.get("FromUserName"), event.get("Content"), at)


@router.internal(CorpTagSyncRequested)
async def on_corp_tag_sync_requested(request: CorpTagSyncRequested, deps: Deps, key: str) -> None:
    await sync_corp_tags(deps)


async def apply_configured_org(deps: Deps) -> None:
    """At start, in every process (customers/__init__.py ``startup``): config/org.yaml into the database."""
    await apply_org(deps.config[ORG])


async def sync_corp_tags_at_start(deps: Deps) -> None:
    """When a worker starts (``worker_startup``): mirror the corp's tags, once per 10-minute window."""
    if deps.settings.scrm_sync_tags_on_start:
        await corp_tag_sync_requested(deps)


@router.event("change_external_tag")
async def on_corp_tags_changed(event: Event, deps: Deps) -> None:
    # create / update / delete / shuffle alike: one get_corp_tag_list keeps the mirror exact,
    # including tags deleted in WeCom (absent from the list → marked deleted here).
    await sync_corp_tags(deps)


@router.command("客户", "customer", "查客户", args=[Arg("名字|id", CUSTOMER)], roles=EVERYONE,
                help="客户档案：来源渠道、标签及原因、最近购买")
async def customer(call: Call) -> str:
    found: Customer = call.args["名字|id"]
    return await chat.profile_text(call, found)


@router.command("同步客户", "sync", "backfill", roles=OPERATORS, help="从企业微信全量同步客户（可断点续传）")
async def sync(call: Call) -> str:
    return await start_once(call, BackfillRequested, "cmd_sync_started", "同步客户")


@router.internal(BackfillRequested)
async def on_backfill_requested(request: BackfillRequested, deps: Deps, key: str) -> None:
    await chat.run_sync(deps, request)
