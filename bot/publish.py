"""Internal events: one feature tells the others something happened, through the same durable stream.

``customer_changed`` after a customer's data changed (added, edited, ordered …) lets tagging,
SOP and leads react without the customer service knowing them. The key de-duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from bot.deps import Deps

__all__ = ["publish"]


async def publish(deps: Deps, kind: str, payload: Mapping[str, Any], key: str) -> bool:
    """Queue internal event ``kind``; False when an event with this key was queued before."""
    body = orjson.dumps({"type": kind, **payload}).decode()
    return await deps.queue.append("internal", f"{kind}:{key}", body, deps.clock.timestamp()) is not None
