"""Internal events the customers feature publishes (bot/internal.py): declared here, once."""

from __future__ import annotations

from bot.deps import Deps
from bot.internal import InternalEvent, internal_event

__all__ = ["CustomerChanged", "customer_changed"]

# Causes a subscriber may act on; anything else is just "data changed".
ADDED = frozenset({"add_external_contact", "add_half_external_contact"})
ORDER = "order"


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
