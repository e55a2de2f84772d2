"""A brand's purchase history as numpy arrays, and the readers that build it.

One row per customer and day: same-day orders are merged into one purchase, as in Fader, Hardie
& Lee (2005) and BTYD, so "a purchase" means "a day with a purchase" everywhere in this package.
Days are whole days since 1970-01-01 in the brand's time zone.

Readers (``read_orders_file``):
- CDNOW as shipped in the ``lifetimes`` wheel: whitespace-separated ``id [sample_id] YYYYMMDD cds
  dollars``, with or without a header line (``CDNOW_master.txt`` / ``CDNOW_sample.txt``).
- Ours: the ``scrm import orders`` CSV (order_id, external_userid or unionid, amount, paid_at …),
  one line per item; an order counts once.
Either may be gzip-compressed (``.gz``). Both are read as a stream, line by line, within caps
(``OrdersLimits``), and a bad line is refused by number and reason.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import math
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "EPOCH", "MAX_LINE_BYTES", "MAX_ORDERS_BYTES", "MAX_ORDERS_ROWS", "Events", "History", "HistoryError",
    "OrdersLimits", "date_of", "day_of", "read_orders_file",
]

EPOCH = date(1970, 1, 1)
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# An orders file's caps (``OrdersLimits``): 1 GiB of text once decompressed, 5 million rows (a few hundred
# MB of arrays), 64 KiB a line. CDNOW's master file is 2.5 MB and 69,659 rows.
MAX_ORDERS_BYTES = 1 << 30
MAX_ORDERS_ROWS = 5_000_000
MAX_LINE_BYTES = 64 * 1024


class HistoryError(ValueError):
    """A file that cannot be read as orders; the message names the line."""


def day_of(moment: datetime | date, tz: tzinfo | None = None) -> int:
    """Whole days since 1970-01-01 of a date, or of a datetime in time zone ``tz``."""
    if isinstance(moment, datetime):
        moment = (moment.astimezone(tz) if tz is not None else moment).date()
    return (moment - EPOCH).days


def date_of(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


@dataclass(frozen=True, slots=True)
class Events:
    """Dated non-purchase events per customer (shop signals, chat messages): ``kind`` indexes ``kinds``."""

    customer: IntArray
    day: IntArray
    kind: IntArray
    kinds: tuple[str, ...]

    @classmethod
    def empty(cls, kinds: Sequence[str] = ()) -> Events:
        zero = np.zeros(0, np.int64)
        return cls(zero, zero.copy(), zero.copy(), tuple(kinds))


@dataclass(frozen=True, slots=True)
class History:
    """Purchases sorted by (customer, day), one per customer and day.

    ``customer`` indexes ``ids``; ``channel`` (optional) is a small integer per customer (the
    contact-way channel it came through, 0 = unknown) and ``events`` the browse / cart / coupon /
    chat signals that the gradient-boosted model may use beside the purchases.
    """

    ids: tuple[str, ...]
    customer: IntArray
    day: IntArray
    amount: FloatArray
    quantity: FloatArray
    channel: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    events: Events = field(default_factory=Events.empty)

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        customer: Iterable[int] | IntArray,
        day: Iterable[int] | IntArray,
        amount: Iterable[float] | FloatArray,
        quantity: Iterable[float] | FloatArray | None = None,
        *,
        channel: IntArray | None = None,
        events: Events | None = None,
    ) -> History:
        """Sort and merge same-day purchases of a customer (amounts and quantities add up)."""
        c = np.asarray(customer, np.int64)
        d = np.asarray(day, np.int64)
        v = np.asarray(amount, np.float64)
        q = np.ones(len(c)) if quantity is None else np.asarray(quantity, np.float64)
        order = np.lexsort((d, c))
        c, d, v, q = c[order], d[order], v[order], q[order]
        if len(c):
            starts = np.flatnonzero(np.r_[True, (c[1:] != c[:-1]) | (d[1:] != d[:-1])])
            c, d, v, q = c[starts], d[starts], np.add.reduceat(v, starts), np.add.reduceat(q, starts)
        n = len(ids)
        chan = np.zeros(n, np.int64) if channel is None or len(channel) == 0 else np.asarray(channel, np.int64)
        return cls(tuple(ids), c, d, v, q, chan, events or Events.empty())

    def sample(self, customers: int, seed: int = 0) -> History:
        """A fixed-seed random ``customers`` of them with all their purchases and events (itself if fewer)."""
        if self.size <= customers:
            return self
        keep = np.sort(np.random.default_rng(seed).choice(self.size, customers, replace=False))
        new_index = np.full(self.size, -1, np.int64)
        new_index[keep] = np.arange(customers)
        rows = new_index[self.customer] >= 0
        ev = self.events
        ev_rows = new_index[ev.customer] >= 0 if len(ev.customer) else np.zeros(0, bool)
        events = Events(new_index[ev.customer[ev_rows]], ev.day[ev_rows], ev.kind[ev_rows], ev.kinds)
        channel = self.channel[keep] if len(self.channel) else self.channel
        return History(tuple(self.ids[i] for i in keep), new_index[self.customer[rows]], self.day[rows],
                       self.amount[rows], self.quantity[rows], channel, events)

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def last_day(self) -> int:
        return int(self.day.max()) if len(self.day) else day_of(EPOCH)


@dataclass(frozen=True, slots=True)
class OrdersLimits:
    """Caps on an orders file, so that a small hostile file (a gzip bomb, one endless line) cannot take
    the machine's memory: it is read line by line and refused, naming the line, past any of them."""

    max_bytes: int = MAX_ORDERS_BYTES
    max_rows: int = MAX_ORDERS_ROWS
    max_line: int = MAX_LINE_BYTES


# Its days must fall in these years: anything else is a typo or a placeholder (00010101, 9999-12-31).
_FIRST_YEAR, _LAST_YEAR = 1970, 2100


def read_orders_file(path: Path, tz: tzinfo | None = None, *, limits: OrdersLimits | None = None) -> History:
    """Read CDNOW's format or ours (see the module docstring) as a stream, within ``limits``; raises
    ``HistoryError`` naming the line and the reason (``OSError`` when the file cannot be opened)."""
    with path.open("rb") as raw:
        lines = _Lines(raw, limits or OrdersLimits())
        try:
            first = next(lines, "")
            rest = itertools.chain([first], lines)
            if "order_id" in first and "," in first:
                return _read_ours(rest, lines, tz)
            return _read_cdnow(rest, lines)
        except (EOFError, gzip.BadGzipFile, zlib.error):
            raise HistoryError("the gzip stream is truncated or corrupt") from None
        except csv.Error as err:
            raise HistoryError(f"line {lines.number}: {err}") from None


class _Lines:
    """The file's lines as text, gunzipped on the fly when it starts with gzip's magic bytes; counts
    lines (``number``), data rows and bytes, and raises ``HistoryError`` past ``limits``."""

    def __init__(self, raw: io.BufferedReader, limits: OrdersLimits) -> None:
        self._stream: io.BufferedIOBase = gzip.GzipFile(fileobj=raw) if raw.peek(2)[:2] == b"\x1f\x8b" else raw
        self._limits = limits
        self.number = 0
        self._rows = 0
        self._bytes = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._stream.readline(self._limits.max_line + 1)
        if not line:
            raise StopIteration
        self.number += 1
        self._bytes += len(line)
        if len(line) > self._limits.max_line:
            raise HistoryError(f"line {self.number}: longer than {self._limits.max_line} bytes")
        if self._bytes > self._limits.max_bytes:
            raise HistoryError(f"line {self.number}: the file is larger than {self._limits.max_bytes} bytes "
                               "(decompressed): split it")
        if line.strip():
            self._rows += 1
            if self._rows > self._limits.max_rows:
                raise HistoryError(f"line {self.number}: more than {self._limits.max_rows} rows: split the file")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise HistoryError(f"line {self.number}: not UTF-8 text") from None
        return text.removeprefix("\ufeff") if self.number == 1 else text


def _number(what: str, text: str, number: int) -> float:
    """A finite, non-negative number (``nan``, ``inf``, ``1e400`` and ``-5`` are not an order's)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise HistoryError(f"line {number}: {what} {text!r} is not a finite number ≥ 0")
    return value


def _in_range(what: str, text: str, when: date, number: int) -> date:
    if not _FIRST_YEAR <= when.year <= _LAST_YEAR:
        raise HistoryError(f"line {number}: {what} {text!r} is outside {_FIRST_YEAR}-{_LAST_YEAR}")
    return when


def _read_cdnow(text: Iterator[str], lines: _Lines) -> History:
    index: dict[str, int] = {}
    customer, day = array("q"), array("q")
    amount, quantity = array("d"), array("d")
    for line in text:
        number = lines.number
        parts = line.split()
        if not parts:
            continue
        if not parts[0].isdigit():
            if number == 1:
                continue  # CDNOW_master.txt's header
            raise HistoryError(f"line {number}: not a CDNOW row: {line.strip()[:60]!r}")
        if len(parts) not in (4, 5):
            raise HistoryError(f"line {number}: expected 4 or 5 columns, got {len(parts)}")
        cid, ymd, cds, dollars = parts[0], parts[-3], parts[-2], parts[-1]
        try:
            if len(ymd) != 8 or not ymd.isascii() or not ymd.isdigit():
                raise ValueError
            when = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8]))
        except ValueError:
            raise HistoryError(f"line {number}: date {ymd!r} is not a day (YYYYMMDD)") from None
        day.append(day_of(_in_range("date", ymd, when, number)))
        quantity.append(_number("quantity", cds, number))
        amount.append(_number("amount", dollars, number))
        customer.append(index.setdefault(cid, len(index)))
    return History.build(list(index), customer, day, amount, quantity)


def _read_ours(text: Iterator[str], lines: _Lines, tz: tzinfo | None) -> History:
    index: dict[str, int] = {}
    seen: set[str] = set()
    customer, day, amount = array("q"), array("q"), array("d")
    for row in csv.DictReader(text):
        number = lines.number
        order_id = (row.get("order_id") or "").strip()
        if not order_id or order_id in seen:
            continue  # one line per item: the order's amount repeats on each
        who = (row.get("external_userid") or "").strip() or (row.get("unionid") or "").strip()
        if not who:
            raise HistoryError(f"line {number}: external_userid or unionid is required")
        paid_text = (row.get("paid_at") or "").strip()
        try:
            paid_at = datetime.fromisoformat(paid_text)
        except ValueError:
            raise HistoryError(f"line {number}: paid_at {paid_text!r} is not a date and time") from None
        if paid_at.tzinfo is None:
            raise HistoryError(f"line {number}: paid_at needs a UTC offset")
        _in_range("paid_at", paid_text, paid_at.date(), number)
        amount_text = (row.get("amount") or "0").strip()
        value = _number("amount", amount_text.replace(",", "").replace("¥", "") or "0", number)
        seen.add(order_id)
        customer.append(index.setdefault(who, len(index)))
        day.append(day_of(paid_at, tz))
        amount.append(value)
    return History.build(list(index), customer, day, amount)
