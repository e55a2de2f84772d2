"""Internal events the orgsync feature publishes (bot/internal.py): declared here, once."""

from __future__ import annotations

from bot.deps import Deps
from bot.internal import InternalEvent, internal_event

__all__ = ["OrgChanged", "org_changed"]


@internal_event("org_changed")
class OrgChanged(InternalEvent):
    """A member or department changed in WeCom's address book. Codes, boards, routing and SOP read
    stores and guides from the database: of them only the channel codes need work."""

    cause: str  # the change: a ChangeType ("create_user", "delete_party" …)


async def org_changed(deps: Deps, cause: str, key: str) -> None:
    """The one publisher of OrgChanged; ``key`` is the causing callback's (de-duplication)."""
    await OrgChanged(cause).publish(deps, key)
