"""change_external_contact (客户变更): thin adapters from the event to the customer service.

An add is two pieces of work that retry on their own: the welcome, sent by the add's handler at
once (its code lives ~20 s), and the record (customer, relation, channel), queued by the same
handler as an internal ``contact_added`` event before the welcome is tried. A welcome that cannot
go never keeps the customer unrecorded, and in a burst the welcomes do not wait behind the
database writes of the adds before them.
"""

from __future__ import annotations

from datetime import datetime

from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from bot.publish import publish
from customers import service
from customers.events import customer_changed

router = Router("contacts")
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
