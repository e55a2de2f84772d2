"""A brand's purchase history as numpy arrays, and the readers that build it.

One row per customer and day: same-day orders are merged into one purchase, as in Fader, Hardie
& Lee (2005) and BTYD, so "a purchase" means "a day with a purchase" everywhere in this package.
Days are whole days since 1970-01-01 in the brand's time zone.

Readers (``read_orders_file``):
- CDNOW as shipped in the ``lifetimes`` wheel: whitespace-separated ``id [sample_id] YYYYMMDD cds
  dollars``, with or without a header line (``CDNOW_master.txt`` / ``CDNOW_sample.txt``).
- Ours: the ``scrm import orders`` CSV (order_id, external_userid or unionid, amount, paid_at …),
  one line per item; an order counts once.
Either may be gzip-compressed (``.gz``).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["History", "Events", "HistoryError", "read_orders_file", "day_of", "date_of", "EPOCH"]

EPOCH = date(1970, 1, 1)
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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


def _open_text(path: Path) -> io.TextIOBase:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return io.StringIO(raw.decode("utf-8-sig"))


def read_orders_file(path: Path, tz: tzinfo | None = None) -> History:
    """Read CDNOW's format or ours (see the module docstring); raises ``HistoryError``."""
    text = _open_text(path)
    first = text.readline()
    text.seek(0)
    if "order_id" in first and "," in first:
        return _read_ours(text, tz)
    return _read_cdnow(text)


def _read_cdnow(text: io.TextIOBase) -> History:
    index: dict[str, int] = {}
    customer: list[int] = []
    day: list[int] = []
    amount: list[float] = []
    quantity: list[float] = []
    for number, line in enumerate(text, 1):
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
            when = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8]))
            customer.append(index.setdefault(cid, len(index)))
            day.append(day_of(when))
            quantity.append(float(cds))
            amount.append(float(dollars))
        except ValueError as err:
            raise HistoryError(f"line {number}: {err}") from None
    return History.build(list(index), customer, day, amount, quantity)


def _read_ours(text: io.TextIOBase, tz: tzinfo | None) -> History:
    index: dict[str, int] = {}
    seen: set[str] = set()
    customer: list[int] = []
    day: list[int] = []
    amount: list[float] = []
    for number, row in enumerate(csv.DictReader(text), 2):
        order_id = (row.get("order_id") or "").strip()
        if not order_id or order_id in seen:
            continue  # one line per item: the order's amount repeats on each
        who = (row.get("external_userid") or "").strip() or (row.get("unionid") or "").strip()
        if not who:
            raise HistoryError(f"line {number}: external_userid or unionid is required")
        try:
            paid_at = datetime.fromisoformat((row.get("paid_at") or "").strip())
            value = float((row.get("amount") or "0").replace(",", "").replace("¥", "") or 0)
        except ValueError as err:
            raise HistoryError(f"line {number}: {err}") from None
        if paid_at.tzinfo is None:
            raise HistoryError(f"line {number}: paid_at needs a UTC offset")
        seen.add(order_id)
        customer.append(index.setdefault(who, len(index)))
        day.append(day_of(paid_at, tz))
        amount.append(value)
    return History.build(list(index), customer, day, amount)
