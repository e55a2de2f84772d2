"""Send-once for messages triggered by events: a unique key per (what, why, to whom).

The row is written before the send and marked after it, so a retried or replayed event sends
nothing twice. Two workers on the same key at the same moment (a reclaim race, two schedulers)
are kept apart by a claim: the first marks the row ``sending`` in one conditional UPDATE; the
other gets SendInProgress — a RetryLater, so its event is deferred without spending an attempt —
and then finds the row ``sent``.

The claim is a lease of CLAIM_TTL that the sender renews while its send runs, so a claim left by
a dead sender is taken over within seconds, not after a minute. A sent message whose mark cannot
be written (PostgreSQL gone) keeps trying the mark for a while before giving up. What remains
uncertain — the sender died between the send and the mark — is sent again by the next claimant:
WeCom refuses a used welcome code (41051), and ``enable_duplicate_check`` on message/send covers
the window for app messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import structlog

from bot.clock import Clock
from bot.errors import PermanentFailure, RetryLater
from bot.models.outbox import Outbox
from bot.outage import storage_outage
from bot.periodic import repeating
from bot.sqldialect import Dialect, connection

__all__ = ["send_once", "send_once_or_skip", "SendInProgress", "SENT", "FAILED", "CLAIM_TTL"]

log = structlog.get_logger(__name__)

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
CLAIM_TTL = timedelta(seconds=8)
_RENEW_EVERY_S = CLAIM_TTL.total_seconds() / 3
# How long a sent message's mark is retried through a storage outage before the error goes up.
_MARK_PATIENCE_S = 30.0


class SendInProgress(RetryLater):
    """Another sender holds this message's claim: retry the event when its lease would have run out."""

    def __init__(self, key: str, defer_s: float = 1.0) -> None:
        super().__init__(key, defer_s)


async def send_once(key: str, kind: str, recipient: str, send: Callable[[], Awaitable[object]], clock: Clock) -> bool:
    """Run ``send`` unless a send with ``key`` already finished; True if it sent now.

    A PermanentFailure is recorded as failed (never retried) and re-raised; any other error
    releases the claim so the event's retry sends again.
    """
    key = key[:160]
    now = clock.now()
    if not await _claim(key, kind[:32], recipient[:64], now):
        row = await Outbox.get(key=key)
        if row.status in (SENT, FAILED):
            return False
        raise SendInProgress(key, _lease_left_s(row.claimed_at, now))
    async with _renewing(key, clock):
        try:
            await send()
        except PermanentFailure as err:
            await Outbox.filter(key=key).update(status=FAILED, error=str(err)[:256])
            raise
        except BaseException:
            await Outbox.filter(key=key, status=SENDING).update(status=PENDING, claimed_at=None)
            raise
        await _mark_sent(key, clock)
    return True


async def _claim(key: str, kind: str, recipient: str, now: datetime) -> bool:
    """Create the row claimed, or claim it if pending or its lease ran out: one statement.

    A sent message is on the welcome's path, so it costs two round trips (this and the mark),
    not a transaction with a read before the write.
    """
    conn = connection()
    dialect = Dialect.of(conn)
    p = dialect.param
    sql = (
        'INSERT INTO "outbox" ("key", "kind", "recipient", "status", "error", "created_at", "claimed_at") '  # noqa: S608 - placeholders only
        f"VALUES ({p(1)}, {p(2)}, {p(3)}, {p(6)}, '', {p(4)}, {p(4)}) "
        f'ON CONFLICT ("key") DO UPDATE SET "status" = {p(6)}, "claimed_at" = excluded."claimed_at" '
        f'WHERE "outbox"."status" = {p(7)} OR ("outbox"."status" = {p(6)} AND "outbox"."claimed_at" < {p(5)}) '
        'RETURNING "id"'
    )
    stale = now - CLAIM_TTL
    params = [key, kind, recipient, dialect.stored_time(now), dialect.stored_time(stale), SENDING, PENDING]
    # execute_query_dict fetches the RETURNING rows (execute_query reads an INSERT's OID as its count).
    return bool(await conn.execute_query_dict(sql, params))


def _lease_left_s(claimed_at: datetime | None, now: datetime) -> float:
    if claimed_at is None:
        return 0.5
    left = (claimed_at + CLAIM_TTL - now).total_seconds()
    return min(CLAIM_TTL.total_seconds(), max(0.2, left + 0.1))


@contextlib.asynccontextmanager
async def _renewing(key: str, clock: Clock) -> AsyncIterator[None]:
    """Renew the claim's lease while the block runs (a slow WeCom call with its own retries)."""

    async def renew() -> None:
        await Outbox.filter(key=key, status=SENDING).update(claimed_at=clock.now())

    def failed(err: Exception) -> None:  # the send goes on; a lapsed lease costs a deferral at most
        log.warning("send_claim_renewal_failed", key=key, error=type(err).__name__)

    async with repeating(_RENEW_EVERY_S, renew, failed, name=f"outbox-claim:{key}"):
        yield


async def _mark_sent(key: str, clock: Clock) -> None:
    deadline = time.monotonic() + _MARK_PATIENCE_S
    pause = 0.1
    while True:
        try:
            conn = connection()
            dialect = Dialect.of(conn)
            p = dialect.param
            # Plain SQL: on every welcome's path, where the ORM's query building cost more than the trip.
            await conn.execute_query(f'UPDATE "outbox" SET "status" = {p(1)}, "sent_at" = {p(2)} WHERE "key" = {p(3)}',  # noqa: S608
                                     [SENT, dialect.stored_time(clock.now()), key])
            return
        except Exception as err:
            if not storage_outage(err) or time.monotonic() >= deadline:
                raise
            log.warning("send_mark_waiting_for_storage", key=key, error=type(err).__name__)
            await asyncio.sleep(pause)
            pause = min(2.0, pause * 2)


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
