"""Send-once for messages triggered by events: a unique key per (what, why, to whom).

The row is written before the send and marked after it, so a retried or replayed event sends
nothing twice; a crash between send and mark can repeat one message at most (WeCom's own
``enable_duplicate_check`` on message/send covers that window for app messages).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tortoise.exceptions import IntegrityError

from bot.clock import Clock
from bot.errors import PermanentFailure
from bot.models.customers import Outbox

__all__ = ["send_once", "SENT", "FAILED"]

SENT = "sent"
FAILED = "failed"


async def send_once(key: str, kind: str, recipient: str, send: Callable[[], Awaitable[object]], clock: Clock) -> bool:
    """Run ``send`` unless a send with ``key`` already finished; True if it sent now.

    A PermanentFailure is recorded as failed (never retried) and re-raised; any other error
    leaves the row pending so the event's retry sends again.
    """
    try:
        row, _created = await Outbox.get_or_create(key=key[:160], defaults={"kind": kind, "recipient": recipient})
    except IntegrityError:
        row = await Outbox.get(key=key[:160])
    if row.status in (SENT, FAILED):
        return False
    try:
        await send()
    except PermanentFailure as err:
        row.status, row.error = FAILED, str(err)[:256]
        await row.save(update_fields=["status", "error"])
        raise
    row.status, row.sent_at = SENT, clock.now()
    await row.save(update_fields=["status", "sent_at"])
    return True
