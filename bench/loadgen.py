"""A small HTTP/1.1 load generator for pre-rendered requests: open loop (fixed rate) and closed loop.

It writes raw request bytes on keep-alive connections (plain asyncio streams, no HTTP client
library), so its own cost per request stays a few microseconds. Latency in the open loop is
measured from the moment a request was *due*, not when it went out, so a stalled server is not
hidden by the generator waiting for it (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["LoadResult", "closed_loop", "open_loop", "percentile", "raw_post"]

_OK_BODY = b"success"
Accept = Callable[[int, bytes], bool]


def _wecom_ok(status: int, body: bytes) -> bool:
    """WeCom callbacks: HTTP 200 and the body ``success``."""
    return status == 200 and body == _OK_BODY


def raw_post(host: str, path_and_query: str, body: bytes, content_type: str = "text/xml") -> bytes:
    """The bytes of one keep-alive POST."""
    head = (
        f"POST {path_and_query} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (NaN when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    error_kinds: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0

    def pct_ms(self, pct: float) -> float:
        return percentile(sorted(self.latencies_s), pct) * 1000


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Conn:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at < 0:
            raise ConnectionError("response without Content-Length")
        end = lower.find(b"\r\n", at + 2)
        length = int(lower[at + 17 : end])
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


async def open_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    duration_s: float,
    *,
    max_connections: int = 512,
    timeout_s: float = 10.0,
    accept: Accept = _wecom_ok,
) -> LoadResult:
    """Send ``rate`` requests a second for ``duration_s``, whatever the answers do; bounded."""
    loop = asyncio.get_running_loop()
    total = min(int(rate * duration_s), len(requests))
    result = LoadResult()
    idle: list[_Conn] = [await _Conn.open(host, port) for _ in range(min(64, max_connections))]
    slots = asyncio.Semaphore(max_connections)
    tasks: set[asyncio.Task[None]] = set()

    async def one(index: int, due: float) -> None:
        async with slots:
            conn: _Conn | None = None
            try:
                conn = idle.pop() if idle else await _Conn.open(host, port)
                async with asyncio.timeout(timeout_s):
                    status, body = await conn.request(requests[index])
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, TimeoutError) as err:
                result.error(type(err).__name__)
                if conn is not None:
                    conn.close()
                return
            result.latencies_s.append(loop.time() - due)
            if accept(status, body):
                result.ok += 1
            else:
                result.error(f"HTTP {status} {body[:40]!r}")
            idle.append(conn)

    start = loop.time() + 0.01
    index = 0
    while index < total:
        due_now = min(total, int((loop.time() - start) * rate) + 1)
        while index < due_now:
            task = asyncio.create_task(one(index, start + index / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            index += 1
        await asyncio.sleep(0.0005)
    result.sent = index
    if tasks:
        await asyncio.wait(set(tasks), timeout=timeout_s + 1)
    result.elapsed_s = loop.time() - start
    for conn in idle:
        conn.close()
    return result


async def closed_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int,
    duration_s: float,
    *,
    timeout_s: float = 10.0,
    accept: Accept = _wecom_ok,
) -> LoadResult:
    """``concurrency`` connections, each sending its next request as soon as the last one is answered."""
    loop = asyncio.get_running_loop()
    result = LoadResult()
    counter = iter(range(len(requests)))
    deadline = loop.time() + duration_s

    async def worker() -> None:
        conn = await _Conn.open(host, port)
        try:
            while loop.time() < deadline:
                index = next(counter, None)
                if index is None:
                    return
                sent = loop.time()
                result.sent += 1
                try:
                    async with asyncio.timeout(timeout_s):
                        status, body = await conn.request(requests[index])
                except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as err:
                    result.error(type(err).__name__)
                    conn.close()
                    conn = await _Conn.open(host, port)
                    continue
                result.latencies_s.append(loop.time() - sent)
                if accept(status, body):
                    result.ok += 1
                else:
                    result.error(f"HTTP {status} {body[:40]!r}")
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    return result
