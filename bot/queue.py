"""The durable event queue: two Redis Streams (lanes), one consumer group, a retry schedule, a dead-letter stream.

The first lane holds what the world sent (WeCom's callbacks, shop intake), the second the product's
own follow-ups (internal events: a contact to record, a customer changed). Workers read the first
lane first, so a welcome (its code lives 20 s) never waits behind the follow-ups of earlier adds;
every ``LATER_FIRST_EVERY``-th read serves the follow-ups first, so they never starve.

Ingest appends with :meth:`EventQueue.append` — de-duplication and XADD in one Lua script, so the
hot path costs exactly one Redis round trip. Workers read through the consumer group, and every
state change of an entry (ack, retry, dead-letter, release) is one MULTI/EXEC, so an entry is
never both gone from the stream and missing from its next place.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError, ResponseError

from bot.events import Event

__all__ = ["EventQueue", "QueueKeys", "Takeover"]

# ARGV: source, key, body, received_at. Field names and the de-duplication TTL (formatted in once
# per queue) live in the script, not on the wire: the hot path packs as few arguments as it can.
_APPEND = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local id = redis.call('XADD', KEYS[2], '*', 'source', ARGV[1], 'key', ARGV[2], 'body', ARGV[3],
  'received_at', ARGV[4], 'attempt', '1')
redis.call('SET', KEYS[1], id, 'EX', %(ttl)d)
return id
"""

# Which lane an entry's fields belong on: KEYS[later] when its source is ARGV[later_source].
LANE_OF_FIELDS = """
local function lane_of(fields, first, later, later_source)
  for i = 1, #fields, 2 do
    if fields[i] == 'source' then
      if fields[i + 1] == later_source then return later end
      return first
    end
  end
  return first
end
"""

# Moves due retries back onto their lane. The payload hash and the schedule entry go in the
# same script as the XADD, so a crash can neither lose nor duplicate a retry.
_PROMOTE = LANE_OF_FIELDS + """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, uid in ipairs(due) do
  local data_key = ARGV[3] .. uid
  local fields = redis.call('HGETALL', data_key)
  if #fields > 0 then redis.call('XADD', lane_of(fields, KEYS[2], KEYS[3], ARGV[4]), '*', unpack(fields)) end
  redis.call('DEL', data_key)
  redis.call('ZREM', KEYS[1], uid)
end
return #due
"""

# Takes over up to ARGV[4] pending entries of consumer ARGV[2] for consumer ARGV[3], only if its
# heartbeat key is gone. The check, the read of its pending list and the XCLAIM are one script, so
# two workers racing for the same dead consumer's backlog each get different entries, and a
# consumer that comes back to life in between keeps its own. A dead consumer with nothing left
# pending is removed from the group. Returns {delivery counts before the claim, claimed entries}.
_TAKE_OVER = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {{}, {}} end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', tonumber(ARGV[4]), ARGV[2])
if #pending == 0 then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
  return {{}, {}}
end
local ids, deliveries = {}, {}
for i, entry in ipairs(pending) do
  ids[i] = entry[1]
  deliveries[i] = entry[1] .. ' ' .. entry[4]
end
return {deliveries, redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, unpack(ids))}
"""


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """Every key of the queue. The ``{prefix}`` hash tag keeps them in one cluster slot."""

    prefix: str

    @property
    def stream(self) -> str:
        """The first lane: WeCom's callbacks and intake."""
        return f"{{{self.prefix}}}:events"

    @property
    def later(self) -> str:
        """The second lane: internal follow-ups."""
        return f"{{{self.prefix}}}:events:later"

    @property
    def lanes(self) -> tuple[str, str]:
        return (self.stream, self.later)

    @property
    def dead(self) -> str:
        return f"{{{self.prefix}}}:events:dead"

    @property
    def retry_schedule(self) -> str:
        return f"{{{self.prefix}}}:events:retry"

    @property
    def retry_data_prefix(self) -> str:
        return f"{{{self.prefix}}}:events:retry:"

    def seen(self, source: str, key: str) -> str:
        return f"{{{self.prefix}}}:seen:{source}:{key}"

    def heartbeat(self, consumer: str) -> str:
        """Present while ``consumer`` is alive (a short TTL its worker keeps renewing)."""
        return f"{{{self.prefix}}}:consumer:{consumer}"


@dataclass(frozen=True, slots=True)
class Takeover:
    """Entries taken from a dead consumer, with how often each has now been delivered."""

    events: list[Event]
    deliveries: dict[tuple[str, str], int]  # (stream, entry id) → deliveries
    asked: int
    found: int

    @property
    def exhausted(self) -> bool:
        """The dead consumer had no more than was asked for: nothing of it is left."""
        return self.found < self.asked


# Internal events (bot/publish.py) ride the second lane.
LATER_SOURCE = "internal"
# Under a backlog on both lanes, one read in this many serves the follow-ups first.
LATER_FIRST_EVERY = 4
# How often an idle worker on the in-process stand-in looks again (it cannot block; see ``blocking_reads``).
STAND_IN_POLL_S = 0.02


class NotReplicated(RedisError):
    """The append is on the primary but not yet on enough replicas: not acknowledged (WeCom re-sends)."""


class EventQueue:
    def __init__(
        self, redis: Redis, prefix: str, *, group: str = "workers", dedup_ttl_s: int = 86400, dead_maxlen: int = 10_000,
        min_replicas: int = 0, replica_wait_ms: int = 1000, blocking_reads: bool = True,
    ) -> None:
        self.redis = redis
        # The in-process stand-in (memory://) emulates a blocking read with a task of its own per read,
        # which under load was seen never to answer, hanging a stop: there an idle read polls instead.
        self.blocking_reads = blocking_reads
        # With replicas, an append counts only once ``min_replicas`` of them have it (WAIT, in the
        # same round trip): Redis replicates asynchronously, and a primary that dies first loses it.
        self.min_replicas = min_replicas
        self.replica_wait_ms = replica_wait_ms
        # The dead-letter stream keeps whole bodies: bounded, the oldest trimmed first (exact
        # XADD MAXLEN: dead letters are rare, and an operator reads the bound as a number).
        self.dead_maxlen = dead_maxlen
        self.keys = QueueKeys(prefix)
        self.group = group
        self.dedup_ttl_s = dedup_ttl_s
        self._append_source = _APPEND % {"ttl": int(dedup_ttl_s)}
        self._append = redis.register_script(self._append_source)
        self._promote = redis.register_script(_PROMOTE)
        self._take_over = redis.register_script(_TAKE_OVER)
        # The hot path's constant arguments, encoded once (redis-py passes bytes through as they are).
        self._append_head = (b"EVALSHA", self._append.sha.encode(), b"2")
        self._stream = self.keys.stream.encode()
        self._later = self.keys.later.encode()
        self._reads = 0
        self._idle = False

    def lane(self, source: str) -> str:
        """The stream an event of ``source`` is appended to."""
        return self.keys.later if source == LATER_SOURCE else self.keys.stream

    def _lane_key(self, source: str) -> bytes:
        """:meth:`lane`, encoded once (the hot path's form)."""
        return self._later if source == LATER_SOURCE else self._stream

    def _read_from(self, event: Event) -> str:
        """The stream ``event`` was read from: where it is acknowledged."""
        return event.stream or self.keys.stream

    # --- producer side (ingest) -------------------------------------------------------------
    def _append_args(
        self, source: str, key: str, body_json: str | bytes, received_at: float
    ) -> tuple[list[Any], list[Any]]:
        keys: list[Any] = [self.keys.seen(source, key), self._lane_key(source)]
        return keys, [source, key, body_json, repr(received_at)]

    async def append(self, source: str, key: str, body_json: str | bytes, received_at: float) -> str | None:
        """Append a new event; return its stream id, or None when the key was seen before.

        ``body_json`` may be the UTF-8 bytes straight from ``orjson.dumps`` (no decode and re-encode).
        """
        if self.min_replicas:
            return await self._append_replicated(source, key, body_json, received_at)
        # EVALSHA straight through execute_command: redis-py's Script wrapper and evalsha's
        # argument-deprecation decorator cost more than the round trip saves on the hot path.
        try:
            result = await self.redis.execute_command(  # type: ignore[no-untyped-call]
                *self._append_head, self.keys.seen(source, key), self._lane_key(source),
                source, key, body_json, repr(received_at),
            )
        except NoScriptError:
            keys, args = self._append_args(source, key, body_json, received_at)
            result = await self._append(keys=keys, args=args)  # loads the script, then runs it
        return _id_or_none(result)

    async def _append_replicated(self, source: str, key: str, body_json: str | bytes, received_at: float) -> str | None:
        """The append and WAIT in one pipelined round trip; NotReplicated when too few replicas have it."""
        keys, args = self._append_args(source, key, body_json, received_at)
        for attempt in range(2):
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.evalsha(self._append.sha, len(keys), *keys, *args)
                    pipe.execute_command("WAIT", self.min_replicas, self.replica_wait_ms)
                    result, replicas = await pipe.execute()
                break
            except NoScriptError:
                # EVALSHA in a pipeline cannot fall back to EVAL: load it (a new primary after a
                # failover has an empty script cache) and try once more.
                if attempt:
                    raise
                await self.redis.script_load(self._append_source)
        if int(replicas) < self.min_replicas:
            raise NotReplicated(f"the append reached {replicas} of {self.min_replicas} replicas")
        return _id_or_none(result)

    async def append_many(self, source: str, items: list[tuple[str, str]], received_at: float) -> list[str | None]:
        """Append (key, body_json) pairs in one pipelined round trip; None marks a duplicate."""
        if not items:
            return []
        # EVALSHA in a pipeline cannot fall back to EVAL; load the script once (a no-op when cached).
        await self.redis.script_load(self._append_source)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, body_json in items:
                keys, args = self._append_args(source, key, body_json, received_at)
                pipe.evalsha(self._append.sha, len(keys), *keys, *args)
            results = await pipe.execute()
        return [_id_or_none(r) for r in results]

    # --- consumer side (worker) -------------------------------------------------------------
    async def ensure_group(self) -> None:
        for stream in self.keys.lanes:
            try:
                await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
            except ResponseError as err:
                if "BUSYGROUP" not in str(err):
                    raise

    def will_wait(self, block_ms: int) -> bool:
        """Whether the next ``read(…, block_ms)`` is the idle one that waits on Redis."""
        return self._idle and block_ms > 0

    async def read(self, consumer: str, count: int, block_ms: int) -> list[Event]:
        """Up to ``count`` new entries, the first lane's before the second's; after a read that found
        nothing, one read that waits ``block_ms`` on both lanes at once (one round trip while idle)."""
        if self.will_wait(block_ms):
            # Each lane may answer, hence half the count from each.
            both = dict.fromkeys(self.keys.lanes, ">")
            if self.blocking_reads:
                events = await self._read_lanes(consumer, both, max(1, count // 2), block_ms)
            else:
                events = await self._read_lanes(consumer, both, max(1, count // 2), None)
                if not events:
                    await asyncio.sleep(min(block_ms / 1000, STAND_IN_POLL_S))
            self._idle = not events
            return events
        self._reads += 1
        first, second = self.keys.lanes
        if self._reads % LATER_FIRST_EVERY == 0:
            first, second = second, first
        events = await self._read_lanes(consumer, {first: ">"}, count, None)
        if len(events) < count:
            events += await self._read_lanes(consumer, {second: ">"}, count - len(events), None)
        self._idle = not events
        return events

    async def _read_lanes(
        self, consumer: str, streams: dict[str, str], count: int, block_ms: int | None
    ) -> list[Event]:
        reply: Any = await self.redis.xreadgroup(self.group, consumer, cast(Any, streams), count=count, block=block_ms)
        events: list[Event] = []
        for stream, entries in reply or []:
            events.extend(self._events(entries, _text(stream)))
        return events

    async def read_own(
        self, consumer: str, stream: str, after: str, count: int, skip: frozenset[str] = frozenset()
    ) -> tuple[list[Event], str, bool]:
        """This consumer's own pending entries of lane ``stream`` after id ``after`` ("0": from the start),
        but those in ``skip`` (the ones it is running).

        Read with XPENDING and XRANGE, not XREADGROUP: reading a consumer's history counts a delivery
        for every entry read, so an entry that ran a long while would look like one that kept killing
        its consumers. Returns (events, the last id looked at, whether the list was looked at to its end).
        """
        start = "-" if after == "0" else f"({after}"
        pending: Any = await self.redis.xpending_range(stream, self.group, start, "+", count, consumername=consumer)
        ids = [_text(p["message_id"]) for p in pending]
        wanted = [sid for sid in ids if sid not in skip]
        entries: list[Any] = []
        if wanted:
            async with self.redis.pipeline(transaction=False) as pipe:
                for sid in wanted:
                    pipe.xrange(stream, sid, sid)
                found = await pipe.execute()
            entries = [entry for one in found for entry in one]
        last = ids[-1] if ids else after
        return self._events(entries, stream), last, len(ids) < count

    @staticmethod
    def _events(entries: list[Any], stream: str) -> list[Event]:
        # A deleted entry still pending shows as (id, None): nothing left to process.
        return [Event.from_fields(_text(sid), _texts(fields), stream) for sid, fields in entries if fields]

    async def ack(self, event: Event) -> None:
        stream = self._read_from(event)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, self.group, event.stream_id)
            pipe.xdel(stream, event.stream_id)
            await pipe.execute()

    async def trim_dead_letters(self, older_than_s: float) -> int:
        """Drop dead letters that failed before ``older_than_s`` (unix seconds); how many went."""
        # Dead-letter ids are XADD's own "<ms>-<seq>": MINID trims by age exactly.
        trimmed: int = await self.redis.xtrim(self.keys.dead, minid=f"{int(max(older_than_s, 0) * 1000)}-0")
        return trimmed

    async def schedule_retry(self, event: Event, due_at: float) -> None:
        """Replace the entry by its next attempt, due at ``due_at`` (unix seconds)."""
        uid = event.stream_id
        stream = self._read_from(event)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.retry_data_prefix + uid, mapping=cast(Any, event.to_fields()))
            pipe.zadd(self.keys.retry_schedule, {uid: due_at})
            pipe.xack(stream, self.group, event.stream_id)
            pipe.xdel(stream, event.stream_id)
            await pipe.execute()

    async def release(self, event: Event) -> None:
        """Give an unfinished entry back at once (graceful shutdown), keeping its attempt count."""
        stream = self._read_from(event)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.lane(event.source), cast(Any, event.to_fields()))
            pipe.xack(stream, self.group, event.stream_id)
            pipe.xdel(stream, event.stream_id)
            await pipe.execute()

    async def dead_letter(self, event: Event, error: str) -> None:
        fields = event.to_fields() | {
            "error": error[:2000],
            "failed_at": repr(time.time()),
            "stream_id": event.stream_id,
        }
        stream = self._read_from(event)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.keys.dead, cast(Any, fields), maxlen=self.dead_maxlen, approximate=False)
            pipe.xack(stream, self.group, event.stream_id)
            pipe.xdel(stream, event.stream_id)
            await pipe.execute()

    async def promote_due_retries(self, now: float, limit: int = 500) -> int:
        moved = await self._promote(
            keys=[self.keys.retry_schedule, *self.keys.lanes],
            args=[now, limit, self.keys.retry_data_prefix, LATER_SOURCE],
        )
        return int(moved)

    async def beat(self, consumer: str, ttl_s: float) -> bool:
        """Renew ``consumer``'s heartbeat for ``ttl_s``; False when it had lapsed (others may have taken over)."""
        previous = await self.redis.set(self.keys.heartbeat(consumer), "1", px=max(1, int(ttl_s * 1000)), get=True)
        return previous is not None

    async def forget(self, consumer: str) -> None:
        """Drop ``consumer``'s heartbeat (a clean stop): nothing of it is pending, so others need not wait."""
        await self.redis.delete(self.keys.heartbeat(consumer))

    async def dead_consumers(self, me: str) -> list[str]:
        """Consumers of the group (on either lane), other than ``me``, whose heartbeat is gone."""
        names: list[str] = []
        for stream in self.keys.lanes:
            consumers: Any = await self.redis.xinfo_consumers(stream, self.group)
            names.extend(n for c in consumers if (n := _text(c["name"])) != me and n not in names)
        if not names:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.exists(self.keys.heartbeat(name))
            alive = await pipe.execute()
        return [name for name, up in zip(names, alive, strict=True) if not up]

    async def take_over(self, dead: str, consumer: str, count: int) -> Takeover:
        """Claim up to ``count`` of the entries ``dead`` left pending, if its heartbeat is still gone.

        XCLAIM counts a delivery, so an entry that keeps killing its consumers shows it. The first
        lane's entries are taken first.
        """
        events: list[Event] = []
        deliveries: dict[tuple[str, str], int] = {}
        found = 0
        for stream in self.keys.lanes:
            if found >= count:
                break
            reply: Any = await self._take_over(
                keys=[stream, self.keys.heartbeat(dead)], args=[self.group, dead, consumer, count - found]
            )
            counts, entries = (reply[0], reply[1]) if reply else ([], [])
            for item in counts:
                stream_id, _, times = _text(item).partition(" ")
                deliveries[(stream, stream_id)] = int(times) + 1
            events += self._events([(sid, _pairs(fields)) for sid, fields in entries], stream)
            found += len(counts)
        return Takeover(events, deliveries, asked=count, found=found)

    # --- inspection ---------------------------------------------------------------------------
    async def depth(self) -> dict[str, int]:
        """Entries waiting or running (both lanes), dead letters, retries scheduled."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.keys.stream)
            pipe.xlen(self.keys.later)
            pipe.xlen(self.keys.dead)
            pipe.zcard(self.keys.retry_schedule)
            first, later, dead, retry = await pipe.execute()
        return {"stream": int(first) + int(later), "dead": int(dead), "retry": int(retry)}

    async def dead_letters(self, count: int = 100) -> list[dict[str, str]]:
        entries: Any = await self.redis.xrange(self.keys.dead, count=count)
        return [_texts(fields) | {"dead_id": _text(sid)} for sid, fields in entries]


def _id_or_none(result: Any) -> str | None:
    if result is None:
        return None
    return result.decode() if isinstance(result, bytes) else str(result)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _texts(fields: Any) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in dict(fields).items()}


def _pairs(fields: Any) -> Any:
    """A script's reply carries an entry's fields as a flat [name, value, …] list."""
    if not isinstance(fields, list):
        return fields
    return dict(zip(fields[::2], fields[1::2], strict=True)) if fields else None
