"""``scrm import signals FILE.jsonl``: backfill history. Stored like live signals (orders feed the
aggregates), but no cards: the past is context for scores, not news for guides."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bot.intake import ItemRejected
from bot.progress import Progress
from leads.report import attribute_orders
from leads.service import store_signals
from leads.signals import SignalIn, parse_signal

__all__ = ["ImportResult", "import_signals"]

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
