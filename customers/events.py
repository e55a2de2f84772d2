"""Internal events the customers feature publishes (bot/internal.py): declared here, once, each with
its one publishing function."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.deps import Deps
from bot.internal import InternalEvent, internal_event
from customers.service import AddCause, ContactAdded

__all__ = [
    "ContactToRecord",
    "CorpTagSyncRequested",
    "CustomerChanged",
    "contact_to_record",
    "corp_tag_sync_requested",
    "customer_changed",
]

# Causes a subscriber may act on; anything else is just "data changed".
ADDED = frozenset(AddCause)
ORDER = "order"
MESSAGE = "message"
# One start-up sync per this many seconds, however many processes start (the event's key).
CORP_TAG_SYNC_WINDOW_S = 600


@internal_event("customer_changed")
class CustomerChanged(InternalEvent):
    """A customer's data changed (added, edited, ordered, wrote …): tagging, SOP and leads react
    without the customer service knowing them."""

    customer_id: int
    cause: str  # the change: a ChangeType ("add_external_contact" …), "order" or "message"

    @property
    def added(self) -> bool:
        return self.cause in ADDED


async def customer_changed(deps: Deps, customer_id: int | None, cause: str, key: str) -> None:
    """The one publisher of CustomerChanged; ``key`` is the causing event's (de-duplication)."""
    if customer_id is not None:
        await CustomerChanged(customer_id, cause).publish(deps, key)


@internal_event("contact_added")
class ContactToRecord(InternalEvent):
    """A contact was added and welcomed: record customer, member and relation in a step of its own
    (the welcome code is short-lived, so the welcome does not wait for the writes)."""

    external_userid: str  # at the top: the worker keeps one customer's events in order by it
    userid: str
    at: float  # the add's time, unix seconds
    state: str
    cause: str  # an AddCause
    contact: dict[str, Any]  # externalcontact/get's answer

    @property
    def added(self) -> ContactAdded:
        """The add, as the handler read it (its welcome code aside: used already, and short-lived)."""
        return ContactAdded(self.userid, self.external_userid, datetime.fromtimestamp(self.at, UTC), self.state,
                            cause=AddCause(self.cause))


async def contact_to_record(deps: Deps, added: ContactAdded, contact: Mapping[str, Any], key: str) -> None:
    """The one publisher of ContactToRecord; ``key`` is the add event's."""
    await ContactToRecord(added.external_userid, added.userid, added.at.timestamp(), added.state, added.cause,
                          dict(contact)).publish(deps, key)


@internal_event("sync_corp_tags")
class CorpTagSyncRequested(InternalEvent):
    """Mirror WeCom's corp tag library now (asked at start-up, so a tag changed while down is seen)."""


async def corp_tag_sync_requested(deps: Deps) -> bool:
    """The one publisher of CorpTagSyncRequested: once per window whatever the number of processes
    starting; False when this window's request was queued already."""
    return await CorpTagSyncRequested().publish(deps, str(int(deps.clock.timestamp() // CORP_TAG_SYNC_WINDOW_S)))
