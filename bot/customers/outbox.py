"""Send-once for messages triggered by events: a unique key per (what, why, to whom).

The row is written before the send and marked after it, so a retried or replayed event sends
nothing twice. Two workers on the same key at the same moment (a reclaim race, two schedulers)
are kept apart by a claim: the first marks the row ``sending`` in one conditional UPDATE; the
other gets SendInProgress, its event is retried and then finds the row ``sent``. A claim left by a
crashed worker expires after CLAIM_TTL. A crash between send and mark can repeat one message at
most (WeCom's own ``enable_duplicate_check`` on message/send covers that window for app messages).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from bot.clock import Clock
from bot.errors import PermanentFailure
from bot.models.customers import Outbox

__all__ = ["send_once", "send_once_or_skip", "SendInProgress", "SENT", "FAILED", "CLAIM_TTL"]

log = structlog.get_logger(__name__)

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
CLAIM_TTL = timedelta(seconds=60)


class SendInProgress(Exception):
    """Another worker is sending this message right now: retry the event later."""


async def send_once(key: str, kind: str, recipient: str, send: Callable[[], Awaitable[object]], clock: Clock) -> bool:
    """Run ``send`` unless a send with ``key`` already finished; True if it sent now.

    A PermanentFailure is recorded as failed (never retried) and re-raised; any other error
    releases the claim so the event's retry sends again.
    """
    key = key[:160]
    try:
        row, _created = await Outbox.get_or_create(key=key, defaults={"kind": kind, "recipient": recipient})
    except IntegrityError:
        row = await Outbox.get(key=key)
    if row.status in (SENT, FAILED):
        return False
    now = clock.now()
    claimed = await Outbox.filter(
        Q(status=PENDING) | Q(status=SENDING, claimed_at__lt=now - CLAIM_TTL), key=key
    ).update(status=SENDING, claimed_at=now)
    if not claimed:
        await row.refresh_from_db()
        if row.status in (SENT, FAILED):
            return False
        raise SendInProgress(key)
    try:
        await send()
    except PermanentFailure as err:
        await Outbox.filter(key=key).update(status=FAILED, error=str(err)[:256])
        raise
    except BaseException:
        await Outbox.filter(key=key, status=SENDING).update(status=PENDING, claimed_at=None)
        raise
    await Outbox.filter(key=key).update(status=SENT, sent_at=clock.now())
    return True


async def send_once_or_skip(
    key: str, kind: str, recipient: str, send: Callable[[], Awaitable[object]], clock: Clock
) -> bool:
    """:func:`send_once` for one recipient of a pass over many: a permanent refusal (left the company,
    not in the app) is recorded as failed and logged, and the pass goes on to the next recipient."""
    try:
        return await send_once(key, kind, recipient, send, clock)
    except PermanentFailure as err:
        log.warning("send_refused", kind=kind, to=recipient, error=str(err)[:200])
        return False
