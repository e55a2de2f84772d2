"""The queue worker: read through the consumer group, fan out, ack on success, retry, dead-letter.

- An entry is acknowledged only after every subscribed handler succeeded and the event log row
  is written; until then it stays pending on this consumer.
- Liveness is a heartbeat: each consumer renews a Redis key with a short TTL every ``heartbeat_s``.
  The entries of a consumer whose heartbeat is gone (killed, host lost) are taken over within
  ``heartbeat_ttl_s`` + ``heartbeat_s``, as many at a time as there are free slots, so a dead
  consumer's backlog drains at full speed. A live consumer's entries are never taken, however long
  its handlers run.
- A failure is retried with capped exponential backoff and jitter, running only the handlers that
  have not succeeded yet; after ``max_attempts`` (or at once for a PermanentFailure) it goes to
  the dead-letter stream with the error. ``RetryLater`` (someone else is on it) defers without
  spending an attempt.
- A storage outage (PostgreSQL or Redis unreachable, in a handler or in the worker's own reads and
  writes) is waited out with the event in hand, retrying with capped backoff: it spends neither an
  attempt nor a delivery.
- Events about the same customer or chat are processed in stream order within this worker.
- ``stop()`` drains: in-flight events get ``shutdown_grace_s`` to finish, the rest are released
  back to the stream at once for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import resource
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

import structlog
from redis.exceptions import RedisError

from bot.dispatch import Dispatcher, DispatchOutcome
from bot.errors import PermanentFailure, RetryLater
from bot.eventlog import ProcessedLog
from bot.events import Event
from bot.heap import trim_heap
from bot.outage import storage_outage
from bot.queue import EventQueue

__all__ = ["Worker", "WorkerPolicy"]

log = structlog.get_logger(__name__)
T = TypeVar("T")


# How long past its BLOCK an idle read may stay unanswered before the worker gives up on it.
IDLE_READ_MARGIN_S = 5.0
# How often, at most, a worker gives its freed heap back to the OS (bot/heap.py), after an event.
HEAP_TRIM_EVERY_S = 30.0
# A rise of the process's peak memory this large is logged with the events in flight (ru_maxrss is in KiB).
PEAK_STEP_KIB = 16 * 1024


@dataclass(frozen=True, slots=True)
class WorkerPolicy:
    concurrency: int = 32
    max_attempts: int = 6
    retry_base_s: float = 2.0
    retry_max_s: float = 600.0
    heartbeat_s: float = 1.0
    heartbeat_ttl_s: float = 4.0
    max_deliveries: int = 5
    shutdown_grace_s: float = 20.0
    block_ms: int = 1000
    outage_retry_base_s: float = 0.2
    outage_retry_max_s: float = 2.0

    def retry_delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full-jitter backoff in [base·2^(n-1) / 2, base·2^(n-1)], capped."""
        ceiling = min(self.retry_max_s, self.retry_base_s * float(2 ** (attempt - 1)))
        return ceiling * (0.5 + rng() / 2)

    def outage_delay(self, tries: int, rng: Callable[[], float] = random.random) -> float:
        """The pause before trying storage again: short, since an outage costs every event it holds."""
        ceiling = min(self.outage_retry_max_s, self.outage_retry_base_s * float(2 ** min(tries, 16)))
        return ceiling * (0.5 + rng() / 2)


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{random.randrange(16**6):06x}"


class Worker:
    def __init__(
        self,
        queue: EventQueue,
        dispatcher: Dispatcher,
        deps: object,
        processed: ProcessedLog,
        policy: WorkerPolicy,
        *,
        consumer: str | None = None,
    ) -> None:
        self.queue = queue
        self.dispatcher = dispatcher
        self.deps = deps
        self.processed = processed
        self.policy = policy
        self.consumer = consumer or default_consumer_name()
        self._stopping = asyncio.Event()
        self._inflight: dict[asyncio.Task[None], Event] = {}
        self._ordering: dict[str, _OrderingLock] = {}
        self._group_ready = False
        self._redis_down = False
        self._storage_down = False
        self._dead: list[str] = []
        self._next_liveness_check = 0.0
        # Our own pending lists (one a lane), read through once per heartbeat TTL: an entry handed to
        # this consumer whose reply never arrived (Redis killed after persisting the XREADGROUP) sits
        # there while we are alive, where no takeover looks. Empty: no pass under way.
        self._own_cursors: dict[str, str] = {}
        self._next_own_check = 0.0
        # After an outage of Redis every heartbeat may have lapsed at once: give the live consumers
        # a TTL to renew theirs before taking anything over.
        self._takeover_after = 0.0
        self.processed_count = 0
        self._peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self._trimmed_at = time.monotonic()

    def stop(self) -> None:
        self._stopping.set()

    @property
    def inflight_count(self) -> int:
        return len(self._inflight)

    async def run(self) -> None:
        """Consume until ``stop()``; then drain and release."""
        log.info("worker_started", consumer=self.consumer, concurrency=self.policy.concurrency)
        async with self._heartbeat():
            try:
                while not self._stopping.is_set():
                    try:
                        await self._step()
                        self._redis_up()
                    except RedisError as err:
                        self._redis_failed(err)
                        if "NOGROUP" in str(err):
                            # Redis came back without the stream (lost with its data): make the group again.
                            self._group_ready = False
                        await self._sleep_unless_stopping(self.policy.outage_retry_max_s / 4)
            finally:
                await self._drain()
        log.info("worker_stopped", consumer=self.consumer, processed=self.processed_count)

    @contextlib.asynccontextmanager
    async def _heartbeat(self) -> AsyncIterator[None]:
        """Keep this consumer's heartbeat key alive while the block runs; drop it after a clean stop."""
        with contextlib.suppress(RedisError):
            await self.queue.beat(self.consumer, self.policy.heartbeat_ttl_s)
        beating = asyncio.create_task(self._keep_beating(), name="worker-heartbeat")
        try:
            yield
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            if not self._inflight:
                with contextlib.suppress(RedisError):
                    await self.queue.forget(self.consumer)

    async def _keep_beating(self) -> None:
        while True:
            await asyncio.sleep(self.policy.heartbeat_s)
            try:
                alive = await self.queue.beat(self.consumer, self.policy.heartbeat_ttl_s)
            except RedisError as err:
                self._redis_failed(err)
                continue
            if not alive:
                # Stalled past the TTL (or Redis lost the key): another worker may have taken over
                # events this one still runs; the event log and the outbox keep their effects single.
                log.warning("worker_heartbeat_lapsed", consumer=self.consumer, inflight=len(self._inflight))

    async def run_until_idle(self, max_rounds: int = 100) -> int:
        """Process what is ready now (tests, CLI one-shots); return how many events were handled."""
        await self.queue.ensure_group()
        before = self.processed_count
        async with self._heartbeat():
            for _ in range(max_rounds):
                started = await self._step(block_ms=0, take_over=True)
                await self._wait_inflight()
                if not started:
                    break
        return self.processed_count - before

    async def _step(self, block_ms: int | None = None, *, take_over: bool = False) -> int:
        if not self._group_ready:
            await self.queue.ensure_group()
            self._group_ready = True
        await self.queue.promote_due_retries(time.time())
        started = await self._take_over(force=take_over)
        started += await self._recover_own()
        free = self._free_slots()
        if free == 0:
            await asyncio.wait(set(self._inflight), return_when=asyncio.FIRST_COMPLETED)
            return started
        # While a dead consumer's backlog remains, come back for it as soon as a slot frees.
        block = 0 if self._dead else self.policy.block_ms if block_ms is None else block_ms
        events = await self._read(free, block)
        for event in events:
            self._start(event)
        return started + len(events)

    async def _read(self, count: int, block_ms: int) -> list[Event]:
        """New entries; an idle wait gives way to ``stop()`` at once, and to nothing answering for
        ``block_ms`` plus a margin (a dropped connection, the in-process stand-in's lost wake-up): a stop
        never waits on Redis. What such a cut-off read delivered stays pending on this consumer, for
        its own recovery or, once its heartbeat is gone, another worker's take-over."""
        if not (self.queue.will_wait(block_ms) and self.queue.blocking_reads):  # the stand-in polls briefly
            return await self.queue.read(self.consumer, count, block_ms)
        read = asyncio.ensure_future(self.queue.read(self.consumer, count, block_ms))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((read, stopping), timeout=block_ms / 1000 + IDLE_READ_MARGIN_S,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if read.done():
            return read.result()
        read.cancel()
        with contextlib.suppress(asyncio.CancelledError, RedisError):
            await read
        return []

    async def _take_over(self, *, force: bool = False) -> int:
        """Start entries of dead consumers: found once per heartbeat period, then taken slot by slot."""
        now = time.monotonic()
        if now < self._takeover_after:
            return 0
        if force or now >= self._next_liveness_check:
            self._next_liveness_check = now + self.policy.heartbeat_s
            self._dead = await self.queue.dead_consumers(self.consumer)
        started = 0
        while self._dead and (free := self._free_slots()) > 0:
            dead = self._dead[0]
            taken = await self.queue.take_over(dead, self.consumer, free)
            if taken.exhausted:
                self._dead.pop(0)
            for event in taken.events:
                count = taken.deliveries.get((event.stream, event.stream_id), 1)
                if count > self.policy.max_deliveries:
                    log.error("event_poison", event_key=event.key, deliveries=count)
                    await self.queue.dead_letter(event, f"abandoned by {count - 1} consumers (crashed or killed)")
                    continue
                log.warning("event_taken_over", event_key=event.key, dead_consumer=dead, deliveries=count)
                self._start(event)
                started += 1
            if not taken.events and not taken.exhausted:
                break
        return started

    async def _recover_own(self) -> int:
        """Start entries of our own pending list that nothing here runs (their delivery was lost)."""
        now = time.monotonic()
        if not self._own_cursors:
            if now < self._next_own_check:
                return 0
            self._own_cursors = dict.fromkeys(self.queue.keys.lanes, "0")
        self._next_own_check = now + self.policy.heartbeat_ttl_s
        free = self._free_slots()
        if free == 0:
            return 0
        stream, after = next(iter(self._own_cursors.items()))
        running = {(event.stream, event.stream_id) for event in self._inflight.values()}
        running_here = frozenset(sid for lane, sid in running if lane == stream)
        events, last, finished = await self.queue.read_own(self.consumer, stream, after, free + len(running),
                                                           running_here)
        if finished:
            del self._own_cursors[stream]
        else:
            self._own_cursors[stream] = last
        started = 0
        for event in events:
            if (event.stream, event.stream_id) in running or self._free_slots() == 0:
                continue
            log.warning("event_recovered_from_own_pending", event_key=event.key, consumer=self.consumer)
            self._start(event)
            started += 1
        return started

    def _free_slots(self) -> int:
        return max(0, self.policy.concurrency - len(self._inflight))

    def _start(self, event: Event) -> None:
        task = asyncio.create_task(self._process(event), name=f"event:{event.key}")
        self._inflight[task] = event
        task.add_done_callback(self._inflight.pop)

    async def _process(self, event: Event) -> None:
        bound = log.bind(event_key=event.key, route="/".join(event.route), attempt=event.attempt)
        ordering_key = _ordering_key(event)
        lock = self._ordering.setdefault(ordering_key, _OrderingLock())
        lock.users += 1
        try:
            async with lock.lock:
                await self._settle(event, bound)
        except Exception as err:  # noqa: BLE001 - the worker must survive any handler or storage failure
            bound.exception("event_processing_crashed")
            await self._crashed(event, err, bound)
        finally:
            lock.users -= 1
            if lock.users == 0:
                del self._ordering[ordering_key]
            self._note_peak_memory(event)
            if time.monotonic() - self._trimmed_at >= HEAP_TRIM_EVERY_S:
                self._trimmed_at = time.monotonic()
                trim_heap()

    def _note_peak_memory(self, event: Event) -> None:
        """Log a step in the process's peak memory with the events in flight: a long-running worker's
        memory should level off after warm-up, and when a job (a board, a digest over every customer)
        raises it for good, the step names its cause. One getrusage call an event."""
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if peak_kib - self._peak_kib < PEAK_STEP_KIB:
            return
        in_flight = sorted({"/".join(e.route) for e in self._inflight.values()})
        log.warning("worker_peak_memory_rose", from_mb=self._peak_kib // 1024, to_mb=peak_kib // 1024,
                    finished="/".join(event.route), in_flight=in_flight[:20])
        self._peak_kib = peak_kib

    async def _settle(self, event: Event, bound: structlog.typing.FilteringBoundLogger) -> None:
        """Run ``event`` until it is acknowledged, scheduled for a retry or dead-lettered."""
        outages = 0
        while True:
            if await self._stored(bound, self.processed.seen, event):
                bound.info("event_already_processed")
                await self._stored(bound, self.queue.ack, event)
                return
            outcome = await self.dispatcher.dispatch(event, self.deps)  # type: ignore[arg-type]
            if outcome.succeeded:
                event = replace(event, done=event.done | outcome.succeeded)
            if outcome.ok:
                if outages:
                    self._storage_up()
                await self._stored(bound, self.processed.record, event, outcome.succeeded)
                await self._stored(bound, self.queue.ack, event)
                self.processed_count += 1
                bound.info(
                    "event_processed",
                    handlers=outcome.matched,
                    latency_ms=round((time.time() - event.received_at) * 1000, 1),
                )
                return
            if any(storage_outage(err) for err in outcome.failed.values()):
                # Only the handlers that met the outage run again, and no attempt is spent.
                outages += 1
                self._storage_failed(bound, outcome.describe_failures())
                await asyncio.sleep(self.policy.outage_delay(outages))
                continue
            await self._failed(event, outcome, bound)
            return

    async def _stored(
        self, bound: structlog.typing.FilteringBoundLogger, operation: Callable[..., Awaitable[T]], *args: Any
    ) -> T:
        """One read or write of the worker's own (event log, queue), retried through a storage outage."""
        tries = 0
        while True:
            try:
                result = await operation(*args)
            except Exception as err:
                if not storage_outage(err):
                    raise
                tries += 1
                self._storage_failed(bound, f"{type(err).__name__}: {err}")
                await asyncio.sleep(self.policy.outage_delay(tries))
                continue
            if tries:
                self._storage_up()
            return result

    async def _failed(
        self, event: Event, outcome: DispatchOutcome, bound: structlog.typing.FilteringBoundLogger
    ) -> None:
        error = outcome.describe_failures()
        errors = outcome.failed.values()
        if all(isinstance(err, RetryLater) for err in errors):
            defer = max(cast(RetryLater, err).defer_s for err in errors)
            await self._stored(bound, self.queue.schedule_retry, event, time.time() + defer)
            bound.info("event_deferred", delay_s=round(defer, 2), reason=error)
            return
        permanent = all(isinstance(err, PermanentFailure) for err in errors)
        await self._retry_or_give_up(event, error, bound, permanent=permanent)

    async def _retry_or_give_up(
        self, event: Event, error: str, bound: structlog.typing.FilteringBoundLogger, *, permanent: bool = False
    ) -> None:
        if permanent or event.attempt >= self.policy.max_attempts:
            await self._stored(bound, self.queue.dead_letter, event, error)
            self.processed_count += 1
            bound.error("event_dead_lettered", error=error, permanent=permanent)
            return
        delay = self.policy.retry_delay(event.attempt)
        retry = replace(event, attempt=event.attempt + 1)
        await self._stored(bound, self.queue.schedule_retry, retry, time.time() + delay)
        bound.warning("event_retry_scheduled", delay_s=round(delay, 2), error=error)

    async def _crashed(self, event: Event, err: Exception, bound: structlog.typing.FilteringBoundLogger) -> None:
        """An error outside the handlers (a bug, bad data in the envelope): an attempt like any failure,
        instead of an entry left pending on a live consumer that nobody would take over."""
        try:
            await self._retry_or_give_up(event, f"{type(err).__name__}: {err}", bound)
        except Exception:  # noqa: BLE001 - logged; the entry stays pending until this worker restarts
            bound.exception("event_settle_failed")

    async def _wait_inflight(self) -> None:
        while self._inflight:
            await asyncio.wait(set(self._inflight))

    async def _drain(self) -> None:
        if not self._inflight:
            return
        log.info("worker_draining", inflight=len(self._inflight))
        _done, pending = await asyncio.wait(set(self._inflight), timeout=self.policy.shutdown_grace_s)
        unfinished = [self._inflight[task] for task in pending]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for event in unfinished:
            try:
                await self.queue.release(event)
                log.warning("event_released", event_key=event.key)
            except RedisError as err:
                log.warning("event_release_failed", event_key=event.key, error=str(err))

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _redis_failed(self, err: RedisError) -> None:
        self._takeover_after = time.monotonic() + self.policy.heartbeat_ttl_s + self.policy.heartbeat_s
        if not self._redis_down:
            self._redis_down = True
            log.error("redis_unavailable", consumer=self.consumer, error=type(err).__name__)

    def _redis_up(self) -> None:
        if self._redis_down:
            self._redis_down = False
            log.info("redis_recovered", consumer=self.consumer)

    def _storage_failed(self, bound: structlog.typing.FilteringBoundLogger, error: str) -> None:
        if not self._storage_down:
            self._storage_down = True
            bound.error("storage_unavailable", consumer=self.consumer, error=error[:300])

    def _storage_up(self) -> None:
        if self._storage_down:
            self._storage_down = False
            log.info("storage_recovered", consumer=self.consumer)


@dataclass(slots=True)
class _OrderingLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


# WeCom's callbacks and our internal events name the same customer id differently: one lock.
_SAME_ID = {"ExternalUserID": "external_userid"}


def _ordering_key(event: Event) -> str:
    body = event.body
    for name in ("ExternalUserID", "ChatId", "external_userid", "unionid", "member_id"):
        value = body.get(name)
        if value:
            return f"{_SAME_ID.get(name, name)}:{value}"
    return f"event:{event.key}"
