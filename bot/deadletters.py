"""What an operator sees of the queue, and acts on: its figures, the dead letters, and replaying them.

- :func:`queue_stats`: stream length, pending per consumer, the oldest waiting entry's age, retries
  scheduled, dead letters (and the bound the dead-letter stream is trimmed to). The same figures
  feed ``scrm events stats``, the ``队列`` chat command and the Prometheus gauges.
- :func:`dead_letters`: each dead letter with its route, key, error, attempts and first-seen time.
- :func:`replay`: puts dead letters back on the stream. A replay is idempotent: the dead letter is
  moved (XADD to the stream and XDEL from the dead letters in one script), so replaying it again
  finds nothing; the entry keeps the handlers that already succeeded (``done``), so only the
  failed ones run; and an event already in ``event_log`` is acknowledged without running at all.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import orjson
import structlog
from redis.exceptions import RedisError, ResponseError

from bot.events import route_of
from bot.queue import LANE_OF_FIELDS, LATER_SOURCE, EventQueue

if TYPE_CHECKING:
    from bot.deps import Deps

__all__ = [
    "DeadLetter",
    "QueueStats",
    "ReplayResult",
    "dead_letters",
    "events_command",
    "latest_dead_letter",
    "format_stats",
    "observe_queue",
    "parse_since",
    "queue_stats",
    "replay",
]

# Moves one dead letter back onto its lane, or answers false when it is gone (replayed already,
# or trimmed). Attempts start again at 1; the handlers that succeeded stay done.
_REPLAY = LANE_OF_FIELDS + """
local entries = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #entries == 0 then return false end
local fields = entries[1][2]
local out = {}
for i = 1, #fields, 2 do
  local name = fields[i]
  if name == 'source' or name == 'key' or name == 'body' or name == 'received_at' or name == 'done' then
    out[#out + 1] = name
    out[#out + 1] = fields[i + 1]
  end
end
out[#out + 1] = 'attempt'
out[#out + 1] = '1'
local id = redis.call('XADD', lane_of(out, KEYS[2], KEYS[3], ARGV[2]), '*', unpack(out))
redis.call('XDEL', KEYS[1], ARGV[1])
return id
"""

_PAGE = 500
_LIST_LIMIT = 1000  # `scrm events dead` prints at most this many
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class QueueStats:
    stream: int  # entries waiting or in flight (acknowledged entries are deleted)
    pending: dict[str, int]  # consumer → entries delivered to it and not acknowledged
    idle_s: dict[str, float]  # consumer (with pending entries) → seconds since it last read or claimed
    oldest_age_s: float  # age of the oldest entry still in the stream (0 when empty)
    retries: int  # scheduled retries
    next_retry_in_s: float | None
    dead: int
    dead_bound: int

    @property
    def pending_total(self) -> int:
        return sum(self.pending.values())


@dataclass(frozen=True, slots=True)
class DeadLetter:
    dead_id: str
    route: str  # kind/event/change, as the worker logs it
    key: str
    source: str
    error: str
    attempts: int
    first_seen: datetime  # when ingest received the event
    failed_at: datetime
    done: tuple[str, ...] = field(default_factory=tuple)  # handlers that succeeded before it failed


@dataclass(frozen=True, slots=True)
class ReplayResult:
    replayed: list[str] = field(default_factory=list)  # dead ids put back on the stream
    missing: list[str] = field(default_factory=list)  # not (or no longer) a dead letter


async def queue_stats(queue: EventQueue, now: float | None = None) -> QueueStats:
    now = time.time() if now is None else now
    keys = queue.keys
    async with queue.redis.pipeline(transaction=False) as pipe:
        pipe.xlen(keys.stream)
        pipe.xlen(keys.later)
        pipe.xlen(keys.dead)
        pipe.zcard(keys.retry_schedule)
        pipe.zrange(keys.retry_schedule, 0, 0, withscores=True)
        pipe.xrange(keys.stream, count=1)
        pipe.xrange(keys.later, count=1)
        first, later, dead, retries, first_retry, *oldest_of_lanes = await pipe.execute()
    stream = int(first) + int(later)
    pending: dict[str, int] = {}
    idle: dict[str, float] = {}
    for lane in keys.lanes if stream else ():
        try:
            consumers: Any = await queue.redis.xinfo_consumers(lane, queue.group)
        except ResponseError as err:  # no group yet (no worker ever started): nothing pending
            if "NOGROUP" not in str(err):
                raise
            consumers = []
        # A consumer with entries and a long idle time is a worker that died holding them.
        for consumer in consumers:
            if int(consumer["pending"]):
                name = _text(consumer["name"])
                pending[name] = pending.get(name, 0) + int(consumer["pending"])
                idle[name] = max(idle.get(name, 0.0), int(consumer.get("idle") or 0) / 1000)
    ages = [now - _id_seconds(_text(entries[0][0])) for entries in oldest_of_lanes if entries]
    oldest_age = max(0.0, *ages) if ages else 0.0
    next_retry = max(0.0, float(first_retry[0][1]) - now) if first_retry else None
    return QueueStats(stream, pending, idle, oldest_age, int(retries), next_retry, int(dead), queue.dead_maxlen)


async def dead_letters(
    queue: EventQueue, *, route: str = "", since: datetime | None = None, limit: int = 1000
) -> list[DeadLetter]:
    """Dead letters, oldest first; ``route`` keeps those whose route contains it, ``since`` those failed since."""
    start = f"{int(since.timestamp() * 1000)}-0" if since else "-"
    found: list[DeadLetter] = []
    while len(found) < limit:
        entries: Any = await queue.redis.xrange(queue.keys.dead, min=start, count=_PAGE)
        for sid, fields in entries:
            letter = _dead_letter(_text(sid), {_text(k): _text(v) for k, v in dict(fields).items()})
            if route in letter.route:
                found.append(letter)
        if len(entries) < _PAGE:
            break
        start = "(" + _text(entries[-1][0])
    return found[:limit]


async def latest_dead_letter(queue: EventQueue) -> DeadLetter | None:
    entries: Any = await queue.redis.xrevrange(queue.keys.dead, count=1)
    for sid, fields in entries:
        return _dead_letter(_text(sid), {_text(k): _text(v) for k, v in dict(fields).items()})
    return None


async def replay(queue: EventQueue, ids: Sequence[str] = (), *, every: bool = False, route: str = "") -> ReplayResult:
    """Put dead letters back on the stream: ``ids``, or ``every`` one (whose route contains ``route``)."""
    wanted = [letter.dead_id for letter in await dead_letters(queue, route=route, limit=10**9)] if every else ids
    script = queue.redis.register_script(_REPLAY)
    result = ReplayResult()
    for dead_id in wanted:
        moved = await script(keys=[queue.keys.dead, *queue.keys.lanes], args=[dead_id, LATER_SOURCE])
        (result.replayed if moved else result.missing).append(dead_id)
    return result


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``30m``, ``2h``, ``7d`` (ago) or an ISO date/datetime (UTC unless it has an offset)."""
    now = now or datetime.now(UTC)
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if len(text) > 1 and text[-1] in units and text[:-1].isdigit():
        return now - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r}: use 30m, 2h, 7d or an ISO date like 2026-11-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _dead_letter(dead_id: str, fields: dict[str, str]) -> DeadLetter:
    try:
        body = orjson.loads(fields.get("body", "{}"))
    except orjson.JSONDecodeError:
        body = {}
    source = fields.get("source", "")
    route = "/".join(route_of(source, body if isinstance(body, dict) else {}))
    failed_at = float(fields.get("failed_at") or _id_seconds(dead_id))
    return DeadLetter(
        dead_id=dead_id,
        route=route,
        key=fields.get("key", ""),
        source=source,
        error=fields.get("error", ""),
        attempts=int(fields.get("attempt", "1") or 1),
        first_seen=datetime.fromtimestamp(float(fields.get("received_at") or 0), UTC),
        failed_at=datetime.fromtimestamp(failed_at, UTC),
        done=tuple(filter(None, fields.get("done", "").split(","))),
    )


def _id_seconds(stream_id: str) -> float:
    return int(stream_id.partition("-")[0]) / 1000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def observe_queue(deps: Deps) -> None:
    """Set the queue gauges (dead letters, oldest pending age …) from Redis; Redis down leaves them as they were."""
    try:
        stats = await queue_stats(deps.queue)
    except RedisError as err:
        log.warning("queue_stats_unavailable", error=type(err).__name__)
        return
    deps.metrics.observe_queue(
        dead=stats.dead, oldest_age_s=stats.oldest_age_s, stream=stats.stream, retries=stats.retries
    )


# --- the `scrm events` command ------------------------------------------------------------------------


async def events_command(
    queue: EventQueue,
    action: str,
    out: TextIO,
    *,
    ids: Sequence[str] = (),
    every: bool = False,
    route: str = "",
    since: str = "",
) -> int:
    """``scrm events stats | dead [--route R] [--since 2h] | replay ID… | replay --all [--route R]``."""
    if action == "stats":
        out.write(format_stats(await queue_stats(queue)) + "\n")
        return 0
    if action == "dead":
        try:
            moment = parse_since(since) if since else None
        except ValueError as err:
            out.write(f"scrm events dead: {err}\n")
            return 2
        letters = await dead_letters(queue, route=route, since=moment, limit=_LIST_LIMIT)
        out.write("".join(line + "\n" for letter in letters for line in format_dead_letter(letter)))
        shown = f" (the first {len(letters)}; narrow with --route or --since)" if len(letters) == _LIST_LIMIT else ""
        out.write(f"{len(letters)} dead letter(s)" + (f" with route containing {route!r}" if route else "")
                  + shown + "\n")
        return 0
    if not ids and not every:
        out.write("scrm events replay: name dead-letter ids (from `scrm events dead`) or --all\n")
        return 2
    result = await replay(queue, ids, every=every, route=route)
    out.write(f"replayed {len(result.replayed)} dead letter(s)" + "".join(f"\n  {i}" for i in result.replayed) + "\n")
    if result.missing:
        out.write(f"not dead letters (already replayed, trimmed or mistyped): {', '.join(result.missing)}\n")
        return 1
    return 0


def format_stats(stats: QueueStats) -> str:
    pending = ", ".join(f"{name} {count} (idle {stats.idle_s.get(name, 0):.0f} s)"
                        for name, count in sorted(stats.pending.items())) or "none"
    next_retry = f" (next in {stats.next_retry_in_s:.1f} s)" if stats.next_retry_in_s is not None else ""
    return "\n".join([
        f"stream:            {stats.stream} event(s) waiting or in flight",
        f"oldest pending:    {stats.oldest_age_s:.1f} s",
        f"pending:           {stats.pending_total} ({pending})",
        f"retries scheduled: {stats.retries}{next_retry}",
        f"dead letters:      {stats.dead} (the oldest are dropped beyond {stats.dead_bound})",
    ])


def format_dead_letter(letter: DeadLetter) -> list[str]:
    done = f"  done before: {', '.join(letter.done)}" if letter.done else ""
    return [
        f"{letter.dead_id}  {letter.route}  key={letter.key}  attempts={letter.attempts}  "
        f"first seen {letter.first_seen:%Y-%m-%d %H:%M:%S} UTC  failed {letter.failed_at:%Y-%m-%d %H:%M:%S} UTC",
        f"    error: {letter.error}{done}",
    ]
