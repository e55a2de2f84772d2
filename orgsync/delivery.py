"""The departed-member notice: a member deleted in WeCom left customers behind, and their store
manager (or the operators) is told once.

Nothing is handed over here: the message counts the customers left behind and suggests the
``交接`` command (离职继承) with a taker — the store's active guide with the fewest customers.
A person decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.deps import Deps
from bot.outbox import send_once

__all__ = ["DepartureNotice", "Member", "send_departure_notice"]


@dataclass(frozen=True, slots=True)
class Member:
    userid: str
    name: str


@dataclass(frozen=True, slots=True)
class DepartureNotice:
    left: Member
    departed_at: int  # unix seconds: one notice per departure, however often it is seen
    customers: int
    taker: Member | None  # the suggested taker
    recipients: tuple[str, ...]


async def send_departure_notice(deps: Deps, notice: DepartureNotice) -> tuple[str, ...]:
    """The notice to each recipient, once; the userids told."""
    templates = deps.config.templates
    userid, taker = notice.left.userid, notice.taker
    if taker is not None:
        suggested = templates.render("member_departed_taker", name=taker.name or taker.userid, userid=taker.userid)
        command = templates.render("member_departed_command", userid=userid, taker=taker.userid)
    else:
        suggested = templates.render("member_departed_no_taker")
        command = templates.render("member_departed_command_no_taker", userid=userid)
    text = templates.render(
        "member_departed", name=notice.left.name or userid, userid=userid, customers=notice.customers,
        taker=suggested, command=command,
    )
    told = []
    for recipient in notice.recipients:

        async def send(to: str = recipient) -> None:
            await deps.wecom.send_text([to], text)

        await send_once(f"departed:{userid}:{notice.departed_at}:{recipient}", "member_departed", recipient, send,
                        deps.clock)
        told.append(recipient)
    return tuple(told)
