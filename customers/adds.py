"""The add path: a contact added (a code scanned, a search) is fetched from WeCom once, welcomed at
once with the event's short-lived code, and recorded in a step of its own (``ContactToRecord``), so
the welcome never waits for the database."""

from __future__ import annotations

from bot.deps import Deps
from customers.delivery import welcome_added
from customers.events import ContactToRecord, contact_to_record, customer_changed
from customers.service import ContactAdded, fetch_added_contact, record_added

__all__ = ["contact_added", "record_contact"]


async def contact_added(deps: Deps, added: ContactAdded, key: str) -> None:
    """Queue the record, then welcome; nothing when the customer is gone already (the loss came first)."""
    contact = await fetch_added_contact(deps, added)
    if contact is None:
        return
    await contact_to_record(deps, added, contact, key)
    await welcome_added(deps, added, contact)


async def record_contact(deps: Deps, record: ContactToRecord, key: str) -> None:
    """Customer, member and relation recorded; tagging, SOP and leads told (``CustomerChanged``)."""
    added = record.added
    customer = await record_added(deps, added, record.contact)
    await customer_changed(deps, customer.id, added.cause, key)
