"""`scrm demo`'s member acquisition chapter (filled in below)."""

from __future__ import annotations

from simulator.narrator import Narrator


async def chapter(n: Narrator) -> None:
    return None
