"""``scrm import signals FILE.jsonl``: backfill history. Stored like live signals (orders feed the
aggregates), but no cards: the past is context for scores, not news for guides."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from tortoise.expressions import Q

from bot.intake import ItemRejected
from bot.progress import Progress
from customers.models import Customer, Signal
from leads.models import MemberIdentity
from leads.report import attribute_orders
from leads.service import store_signals
from leads.signals import SignalIn, parse_signal

__all__ = ["ImportResult", "import_signals", "MembersResult", "import_members"]

BATCH = 1000


@dataclass(slots=True)
class ImportResult:
    read: int = 0
    stored: int = 0
    linked: int = 0
    errors: list[str] = field(default_factory=list)


def _lines(path: Path, result: ImportResult) -> Iterator[SignalIn]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            result.read += 1
            try:
                item = orjson.loads(line)
                if not isinstance(item, dict):
                    raise ItemRejected("not a JSON object")
                yield parse_signal(item)
            except (orjson.JSONDecodeError, ItemRejected) as err:
                result.errors.append(f"{path}:{number}: {err}")


async def import_signals(path: Path, *, attribution_days: float, progress: Progress | None = None) -> ImportResult:
    result = ImportResult()
    batch: list[SignalIn] = []

    async def flush() -> None:
        stored = await store_signals(batch, "import")
        result.stored += len(stored)
        linked = {s.customer_id for s in stored if s.customer_id is not None}
        result.linked += sum(1 for s in stored if s.customer_id is not None)
        await attribute_orders(linked, attribution_days)
        if progress is not None:
            progress.advance(len(batch))
        batch.clear()

    for signal in _lines(path, result):
        batch.append(signal)
        if len(batch) >= BATCH:
            await flush()
    if batch:
        await flush()
    if progress is not None:
        progress.finish()
    return result


@dataclass(slots=True)
class MembersResult:
    stored: int = 0
    linked_signals: int = 0
    errors: list[str] = field(default_factory=list)


async def import_members(path: Path) -> MembersResult:
    """``scrm import members FILE.csv`` (member_id, external_userid and/or unionid): the shop's member
    ids, so member-only signals find their customer; signals already kept are linked now."""
    result = MembersResult()
    rows: dict[str, tuple[str | None, str | None]] = {}
    text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), 2):
        member_id = (row.get("member_id") or "").strip()
        ext = (row.get("external_userid") or "").strip() or None
        union = (row.get("unionid") or "").strip() or None
        if not member_id or not (ext or union):
            result.errors.append(f"{path}:{number}: needs member_id and external_userid or unionid")
            continue
        rows[member_id[:64]] = (ext[:64] if ext else None, union[:64] if union else None)
    for member_id, (ext, union) in rows.items():
        await MemberIdentity.update_or_create(member_id=member_id, defaults={"external_userid": ext,
                                                                            "unionid": union})
        result.stored += 1
    customers = await Customer.filter(
        Q(external_userid__in=[e for e, _ in rows.values() if e]) | Q(unionid__in=[u for _, u in rows.values() if u])
    ).values_list("id", "external_userid", "unionid")
    by_ext = {e: i for i, e, _ in customers}
    by_union = {u: i for i, _, u in customers if u}
    for member_id, (ext, union) in rows.items():
        customer_id = by_ext.get(ext or "") or by_union.get(union or "")
        if customer_id:
            result.linked_signals += await Signal.filter(member_id=member_id, customer_id__isnull=True).update(
                customer_id=customer_id
            )
    return result
