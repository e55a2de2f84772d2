"""The queue worker: read through the consumer group, fan out, ack on success, retry, dead-letter.

- An entry is acknowledged only after every subscribed handler succeeded and the event log row
  is written; until then it stays pending and a crashed consumer's entries are reclaimed.
- A failure is retried with capped exponential backoff and jitter, running only the handlers that
  have not succeeded yet; after ``max_attempts`` (or at once for a PermanentFailure) it goes to
  the dead-letter stream with the error.
- Events about the same customer or chat are processed in stream order within this worker.
- ``stop()`` drains: in-flight events get ``shutdown_grace_s`` to finish, the rest are released
  back to the stream at once for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import structlog
from redis.exceptions import RedisError

from bot.dispatch import Dispatcher, DispatchOutcome
from bot.errors import PermanentFailure
from bot.eventlog import ProcessedLog
from bot.events import Event
from bot.queue import EventQueue

__all__ = ["Worker", "WorkerPolicy"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerPolicy:
    concurrency: int = 32
    max_attempts: int = 6
    retry_base_s: float = 2.0
    retry_max_s: float = 600.0
    reclaim_idle_s: float = 60.0
    max_deliveries: int = 5
    shutdown_grace_s: float = 20.0
    block_ms: int = 1000

    def retry_delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Full-jitter backoff in [base·2^(n-1) / 2, base·2^(n-1)], capped."""
        ceiling = min(self.retry_max_s, self.retry_base_s * float(2 ** (attempt - 1)))
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
        self._slots = asyncio.Semaphore(policy.concurrency)
        self._ordering: dict[str, _OrderingLock] = {}
        self._group_ready = False
        self._redis_down = False
        self._next_reclaim = 0.0
        self.processed_count = 0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Consume until ``stop()``; then drain and release."""
        log.info("worker_started", consumer=self.consumer, concurrency=self.policy.concurrency)
        keeper = asyncio.create_task(self._keep_claims(), name="worker-keep-claims")
        try:
            while not self._stopping.is_set():
                try:
                    await self._step()
                    self._redis_up()
                except RedisError as err:
                    self._redis_failed(err)
                    await self._sleep_unless_stopping(1.0)
        finally:
            keeper.cancel()
            await self._drain()
            log.info("worker_stopped", consumer=self.consumer, processed=self.processed_count)

    async def _keep_claims(self) -> None:
        """Every third of the reclaim idle time, tell the group the in-flight events are still owned."""
        period = max(0.05, self.policy.reclaim_idle_s / 3)
        while not self._stopping.is_set():
            await self._sleep_unless_stopping(period)
            ids = [event.stream_id for event in self._inflight.values() if event.stream_id]
            try:
                await self.queue.keep_claimed(self.consumer, ids)
            except RedisError as err:
                self._redis_failed(err)

    async def run_until_idle(self, max_rounds: int = 100) -> int:
        """Process what is ready now (tests, CLI one-shots); return how many events were handled."""
        await self.queue.ensure_group()
        before = self.processed_count
        for _ in range(max_rounds):
            started = await self._step(block_ms=0, reclaim=True)
            await self._wait_inflight()
            if not started:
                break
        return self.processed_count - before

    async def _step(self, block_ms: int | None = None, *, reclaim: bool = False) -> int:
        if not self._group_ready:
            await self.queue.ensure_group()
            self._group_ready = True
        now = time.time()
        await self.queue.promote_due_retries(now)
        started = 0
        if reclaim or now >= self._next_reclaim:
            self._next_reclaim = now + max(1.0, self.policy.reclaim_idle_s / 2)
            started += await self._reclaim()
        free = self._free_slots()
        if free == 0:
            await asyncio.wait(set(self._inflight), return_when=asyncio.FIRST_COMPLETED)
            return started
        events = await self.queue.read(self.consumer, free, self.policy.block_ms if block_ms is None else block_ms)
        for event in events:
            self._start(event)
        return started + len(events)

    async def _reclaim(self) -> int:
        min_idle_ms = int(self.policy.reclaim_idle_s * 1000)
        claimed, infos = await self.queue.reclaim(self.consumer, min_idle_ms, count=max(1, self._free_slots()))
        deliveries = {info.stream_id: info.deliveries for info in infos}
        for event in claimed:
            count = deliveries.get(event.stream_id, 1)
            if count > self.policy.max_deliveries:
                log.error("event_poison", event_key=event.key, deliveries=count)
                await self.queue.dead_letter(event, f"abandoned by {count - 1} consumers (crashed or killed)")
                continue
            log.warning("event_reclaimed", event_key=event.key, deliveries=count)
            self._start(event)
        return len(claimed)

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
                await self._handle(event, bound)
        except RedisError as err:
            # The entry stays pending; reclaim will hand it out again once Redis is back.
            self._redis_failed(err)
        except Exception:  # noqa: BLE001 - the worker must survive any handler or storage failure
            bound.exception("event_processing_crashed")
        finally:
            lock.users -= 1
            if lock.users == 0:
                del self._ordering[ordering_key]

    async def _handle(self, event: Event, bound: structlog.typing.FilteringBoundLogger) -> None:
        if await self.processed.seen(event):
            bound.info("event_already_processed")
            await self.queue.ack(event)
            return
        outcome = await self.dispatcher.dispatch(event, self.deps)  # type: ignore[arg-type]
        if outcome.ok:
            await self.processed.record(event, outcome.succeeded)
            await self.queue.ack(event)
            self.processed_count += 1
            bound.info(
                "event_processed",
                handlers=outcome.matched,
                latency_ms=round((time.time() - event.received_at) * 1000, 1),
            )
            return
        await self._failed(event, outcome, bound)

    async def _failed(
        self, event: Event, outcome: DispatchOutcome, bound: structlog.typing.FilteringBoundLogger
    ) -> None:
        error = outcome.describe_failures()
        permanent = all(isinstance(err, PermanentFailure) for err in outcome.failed.values())
        if permanent or event.attempt >= self.policy.max_attempts:
            await self.queue.dead_letter(replace(event, done=event.done | outcome.succeeded), error)
            self.processed_count += 1
            bound.error("event_dead_lettered", error=error, permanent=permanent)
            return
        delay = self.policy.retry_delay(event.attempt)
        retry = replace(event, attempt=event.attempt + 1, done=event.done | outcome.succeeded)
        await self.queue.schedule_retry(retry, time.time() + delay)
        bound.warning("event_retry_scheduled", delay_s=round(delay, 2), error=error)

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
        if not self._redis_down:
            self._redis_down = True
            log.error("redis_unavailable", consumer=self.consumer, error=type(err).__name__)

    def _redis_up(self) -> None:
        if self._redis_down:
            self._redis_down = False
            log.info("redis_recovered", consumer=self.consumer)


@dataclass(slots=True)
class _OrderingLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


def _ordering_key(event: Event) -> str:
    body = event.body
    for name in ("ExternalUserID", "ChatId", "external_userid", "unionid", "member_id"):
        value = body.get(name)
        if value:
            return f"{name}:{value}"
    return f"event:{event.key}"
