"""Chat command for operators: 队列 — the event queue's figures at a glance (as `scrm events stats`)."""

from __future__ import annotations

from bot.commands import OPERATORS, Call, command
from bot.deadletters import latest_dead_letter, queue_stats


@command("队列", "events", "queue", "队列状态", "事件", roles=OPERATORS, help="事件队列：待处理、重试、死信")
async def queue_at_a_glance(call: Call) -> str:
    stats = await queue_stats(call.deps.queue)
    detail = ""
    latest = await latest_dead_letter(call.deps.queue) if stats.dead else None
    if latest is not None:
        detail = call.say("cmd_events_dead", count=stats.dead, detail=f"{latest.route}：{latest.error[:120]}")
    return call.say(
        "cmd_events",
        count=stats.stream,
        pending=stats.pending_total,
        seconds=f"{stats.oldest_age_s:.0f}",
        waiting=stats.retries,
        failed=stats.dead,
        detail=detail,
    )
