"""``scrm demo``: one campaign end to end — sent to a tag, one guide confirms, results synced, the report with lift."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]


async def chapter(n: Narrator) -> None:
    return None
