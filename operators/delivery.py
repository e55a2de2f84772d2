"""What operators are sent without asking: the outcome of a hand-over they requested."""

from __future__ import annotations

from bot.commands import send_to_member
from bot.deps import Deps
from operators.chat import handover_text
from operators.handover import check_handovers

__all__ = ["check_and_report_handovers"]


async def check_and_report_handovers(deps: Deps) -> None:
    """Read WeCom's transfer results; tell each requester once when their hand-over settled."""
    for report in await check_handovers(deps):
        if report.done and report.requested_by:
            await send_to_member(deps, report.requested_by, handover_text(deps, report, "cmd_handover_done"),
                                 f"handover:{report.handover_id}:done")
