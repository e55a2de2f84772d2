"""The callback spool: when Redis cannot take a callback, the web process keeps it on its own disk.

WeCom re-sends an unanswered callback only 3 times, seconds apart. A Redis restart replaying its AOF,
or a failover, can outlast that, and answering 503 then loses the event for good. So when the append
fails, ingest writes the callback to this process's spool file (one line, fsynced) and answers
``success``; a background task moves spooled callbacks into the stream as soon as Redis answers again,
through the same de-duplicating append (a callback WeCom also re-sent meanwhile goes in once).

- One file per process (``<host>-<pid>-<random>.spool`` in ``SCRM_SPOOL_DIR``), held under an exclusive
  ``flock`` while the process lives. A process that died with callbacks in its file leaves it
  unlocked, and any web process's next drain takes it over.
- A drain first renames the live file (``….draining``, still locked) so new callbacks start a new
  one, then appends its lines and removes it. A crash mid-drain leaves the file for the next drain:
  the lines already in go in again as duplicates, which the de-duplication drops (its TTL,
  ``SCRM_DEDUP_TTL_S``, outlasts any outage worth spooling).
- Bounded: past ``SCRM_SPOOL_MAX_MB`` ingest answers 503, as without a spool.
- The hot path is untouched: the spool is written only after an append failed, from a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import structlog
from redis.exceptions import RedisError

from bot.periodic import repeating
from bot.queue import EventQueue

__all__ = ["CallbackSpool", "draining_spool"]

log = structlog.get_logger(__name__)

LIVE = ".spool"
DRAINING = ".draining"


@dataclass(slots=True)
class _Held:
    """A spool file this process has open under its exclusive lock."""

    path: Path
    fd: int


@dataclass(frozen=True, slots=True)
class Spooled:
    source: str
    key: str
    body_json: str
    received_at: float


class CallbackSpool:
    def __init__(self, directory: Path, queue: EventQueue, *, max_bytes: int) -> None:
        self.directory = directory
        self.queue = queue
        self.max_bytes = max_bytes
        self.name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._lock = asyncio.Lock()  # one writer or rotation at a time in this process
        self._live: _Held | None = None
        self._draining: list[_Held] = []
        self._rotations = 0
        self.kept_bytes = 0  # in this process's live and draining files

    # --- ingest's side ------------------------------------------------------------------------
    async def keep(self, source: str, key: str, body_json: bytes | str, received_at: float) -> bool:
        """Write one callback to this process's file, on disk before returning True; False when the
        spool is full or the disk refuses (ingest then answers 503, and WeCom re-sends)."""
        body = body_json.decode() if isinstance(body_json, bytes) else body_json
        line = orjson.dumps({"source": source, "key": key, "body": body, "at": received_at}) + b"\n"
        async with self._lock:
            if self.kept_bytes + len(line) > self.max_bytes:
                log.error("spool_full", kept_bytes=self.kept_bytes, max_bytes=self.max_bytes)
                return False
            try:
                await asyncio.to_thread(self._write, line)
            except OSError as err:
                log.error("spool_write_failed", error=f"{type(err).__name__}: {err.strerror or err}")
                return False
            self.kept_bytes += len(line)
        return True

    def _write(self, line: bytes) -> None:
        if self._live is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._live = _open_locked(self.directory / f"{self.name}{LIVE}", create=True)
            if self._live is None:  # cannot happen for a fresh name; said rather than assumed
                raise OSError(f"{self.name}{LIVE} is locked by another process")
        os.write(self._live.fd, line)
        os.fsync(self._live.fd)

    # --- the drain ----------------------------------------------------------------------------
    async def drain(self) -> int:
        """Move spooled callbacks (this process's and those of processes that died) into the stream;
        return how many went in (duplicates of what is there already not counted). Stops at the first
        Redis failure: the rest waits for the next round."""
        async with self._lock:
            if self._live is not None:  # most rounds find nothing kept: no thread hop for them
                await asyncio.to_thread(self._rotate)
        moved = 0
        for held in list(self._draining):
            moved += await self._drain_file(held, own=True)
        for held in await asyncio.to_thread(self._orphans):
            moved += await self._drain_file(held, own=False)
        return moved

    def _rotate(self) -> None:
        assert self._live is not None
        self._rotations += 1
        target = self._live.path.with_name(f"{self.name}-{self._rotations}{DRAINING}")
        os.rename(self._live.path, target)  # the lock is on the file, so it moves with it
        self._draining.append(_Held(target, self._live.fd))
        self._live = None

    def _orphans(self) -> list[_Held]:
        """Spool files of processes that are gone: no live process holds their lock."""
        if not self.directory.is_dir():
            return []
        found: list[_Held] = []
        for path in sorted(self.directory.iterdir()):
            if path.suffix not in (LIVE, DRAINING) or path.name.startswith(self.name):
                continue
            held = _open_locked(path, create=False)
            if held is not None:
                found.append(held)
        return found

    async def _drain_file(self, held: _Held, *, own: bool) -> int:
        try:
            entries, bad = await asyncio.to_thread(_read_entries, held)
            moved = 0
            for entry in entries:
                if await self.queue.append(entry.source, entry.key, entry.body_json, entry.received_at):
                    moved += 1
        except (RedisError, OSError, TimeoutError) as err:
            log.warning("spool_drain_paused", file=held.path.name, error=type(err).__name__)
            if not own:
                _release(held)  # another process (or this one, next round) takes it up again
            return 0
        size = await asyncio.to_thread(_remove, held)
        if own:
            self._draining.remove(held)
            self.kept_bytes = max(0, self.kept_bytes - size)
        log.warning("spool_drained", file=held.path.name, callbacks=len(entries), moved=moved, unreadable=bad)
        return moved

    def close(self) -> None:
        """Release this process's files (kept on disk for the next process when not empty)."""
        for held in [*self._draining, *([self._live] if self._live else [])]:
            _release(held)
        self._draining.clear()
        self._live = None

    @property
    def has_room(self) -> bool:
        return self.kept_bytes < self.max_bytes

    @property
    def empty(self) -> bool:
        return self._live is None and not self._draining


def _open_locked(path: Path, *, create: bool) -> _Held | None:
    """``path`` opened for appending under an exclusive lock; None when another process holds it (or it
    was drained and removed in the meantime)."""
    flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    if not path.exists():  # removed by the process that drained it just before we locked it
        os.close(fd)
        return None
    return _Held(path, fd)


def _read_entries(held: _Held) -> tuple[list[Spooled], int]:
    """The file's callbacks, and how many lines could not be read (a line cut by a crash mid-write)."""
    with open(held.fd, "rb", closefd=False) as file:  # noqa: PTH123 - a descriptor this process holds
        file.seek(0)
        lines = file.read().splitlines()
    entries: list[Spooled] = []
    bad = 0
    for line in lines:
        try:
            item = orjson.loads(line)
            entries.append(Spooled(str(item["source"]), str(item["key"]), str(item["body"]), float(item["at"])))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            bad += 1
    return entries, bad


def _remove(held: _Held) -> int:
    size = os.fstat(held.fd).st_size
    with contextlib.suppress(FileNotFoundError):
        os.remove(held.path)
    _release(held)
    return size


def _release(held: _Held) -> None:
    with contextlib.suppress(OSError):
        os.close(held.fd)  # closing the last descriptor drops the lock


@contextlib.asynccontextmanager
async def draining_spool(spool: CallbackSpool, every_s: float) -> AsyncIterator[None]:
    """Drain ``spool`` every ``every_s`` while the block runs (the web role), and once more at the end."""
    try:
        async with repeating(every_s, spool.drain, lambda _err: log.exception("spool_drain_crashed"),
                             name="spool-drain"):
            yield
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(spool.drain(), timeout=5)
        spool.close()
