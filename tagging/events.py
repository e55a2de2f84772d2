"""Internal events the tagging feature publishes (bot/internal.py): declared here, once."""

from __future__ import annotations

import uuid

from bot.deps import Deps
from bot.internal import InternalEvent, internal_event

__all__ = ["RetagDirty", "retag_dirty_queued"]


@internal_event("retag_dirty")
class RetagDirty(InternalEvent):
    """Customers were marked dirty (tagging/service.py ``mark_dirty``): re-tag them in one job."""


async def retag_dirty_queued(deps: Deps) -> None:
    """The one publisher of RetagDirty. A fresh key each time: ``mark_dirty``'s flag already keeps
    one such job queued at a time, and a job queued after the last one finished must not be
    taken for a duplicate of it."""
    await RetagDirty().publish(deps, uuid.uuid4().hex)
