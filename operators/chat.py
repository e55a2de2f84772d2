"""What the operators' chat commands do and say: 帮助, 角色, 队列 and 交接 (templates by id)."""

from __future__ import annotations

from bot.commands import Call, CommandError, commands_for, say
from bot.deadletters import latest_dead_letter, queue_stats
from bot.deps import Deps
from customers.models import Guide, Role
from operators import service
from operators.handover import HandoverError, HandoverReport, start_handover
from operators.roles import role_name

__all__ = ["hand_over", "handover_text", "help_text", "queue_text", "set_role"]


def help_text(call: Call) -> str:
    lines = [f"· {c.usage} — {c.help}" for c in commands_for(call.deps, call.caller.role)]
    return call.say("cmd_help", name=call.caller.name, role=role_name(call.deps, call.caller.role),
                    lines="\n".join(lines))


async def set_role(call: Call, member: Guide, role: Role) -> str:
    await service.set_role(member, role)
    return call.say("cmd_role_set", name=member.name or member.userid, role=role_name(call.deps, role))


async def queue_text(call: Call) -> str:
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


async def hand_over(call: Call, giver: Guide, taker: Guide) -> str:
    try:
        report = await start_handover(call.deps, giver.userid, taker.userid, call.caller.userid)
    except HandoverError as err:
        raise CommandError(call.say("cmd_handover_refused", detail=str(err))) from None
    return handover_text(call.deps, report, "cmd_handover_started")


def handover_text(deps: Deps, report: HandoverReport, template_id: str) -> str:
    """A hand-over's state: moved, waiting, failed by reason, and the records other features moved."""
    reasons = "、".join(
        say(deps, "cmd_handover_reason", detail=_reason(deps, reason), count=n) for reason, n in report.reasons.items()
    )
    records = "".join(
        say(deps, "cmd_handover_records", name=label, count=n) for label, n in report.moved_records.items()
    )
    return say(deps, template_id, giver=report.handover_userid, taker=report.takeover_userid, moved=report.moved,
               waiting=report.waiting, failed=report.failed, detail=f"（{reasons}）" if reasons else "",
               records=records)


def _reason(deps: Deps, reason: str) -> str:
    """A failure reason as operators read it; one without a template shows as recorded (errcode …)."""
    template_id = f"cmd_handover_reason_{reason}"
    return say(deps, template_id) if template_id in deps.config.templates else reason
