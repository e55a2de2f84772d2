"""Chat replies about the boards, as plain functions the chat command router calls: ``排行``,
``我的排名``, ``门店 [门店]``, ``订阅排行 <群机器人>``. Each returns the reply, rendered from
config/templates.yaml; a refusal is a CommandError whose message is the reply."""

from __future__ import annotations

from boards.delivery import subscribe
from boards.kinds import Level
from boards.periods import to_date
from boards.report import APP_MARKDOWN_BYTES, arrow, number, render_boards
from boards.service import build_boards, ranks_of, store_by_id, store_by_token, store_figures
from bot.commands import Caller, CommandError, say
from bot.deps import Deps
from customers.models import Role, Store

__all__ = ["TEMPLATES", "board_reply", "my_rank_reply", "store_reply", "subscribe_reply"]

TEMPLATES = ("cmd_no_robots",)  # 订阅排行 with no robot configured

# The 排行 reply is one app markdown message; the margin leaves room for what the router adds.
_BOARD_BUDGET = APP_MARKDOWN_BYTES - 48


async def board_reply(deps: Deps, kind: str) -> str:
    """``排行 [日|周|月]``: the boards of the period so far, top 5 and bottom 3 (markdown)."""
    period = to_date(kind, deps.clock.now(), deps.settings.scrm_timezone)
    boards = await build_boards(deps, period)
    return render_boards(deps.config.templates, boards, top=5, bottom=3, budget=_BOARD_BUDGET)


async def my_rank_reply(deps: Deps, caller: Caller) -> str:
    """``我的排名``: a guide's (a store manager: their store's) rank today and this week."""
    level: Level = "store" if caller.role == Role.STORE_MANAGER else "guide"
    key = caller.store_id if level == "store" else caller.guide_id
    if key is None:
        raise CommandError(say(deps, "cmd_rank_no_store"))
    ranks = await ranks_of(deps, level, key, ("daily", "weekly"))
    if ranks is None:
        raise CommandError(say(deps, "cmd_rank_not_listed"))
    templates = deps.config.templates
    parts = [
        templates.render(f"board_{'store_' if level == 'store' else ''}rank_{kind}", rank=row.rank,
                         total=len(board.rows), metric=board.metric.label, value=number(board.metric, row.value))
        for kind, (row, board) in zip(("daily", "weekly"), ranks, strict=True)
    ]
    return say(deps, "cmd_my_rank", name=caller.name, lines="；".join(parts))


async def store_reply(deps: Deps, caller: Caller, token: str | None) -> str:
    """``门店 [门店]``: every metric of a store today, against yesterday; a store manager sees only theirs."""
    store: Store | None
    if token:
        store = await store_by_token(token)
        if store is not None and caller.role == Role.STORE_MANAGER and store.id != caller.store_id:
            raise CommandError(say(deps, "cmd_store_not_yours"))
    else:
        store = await store_by_id(caller.store_id) if caller.store_id else None
    if store is None:
        raise CommandError(say(deps, "cmd_store_not_found"))
    period = to_date("daily", deps.clock.now(), deps.settings.scrm_timezone)
    templates = deps.config.templates
    lines = [
        templates.render("board_store_figure", metric=f.metric.label, value=number(f.metric, f.value),
                         previous=number(f.metric, f.previous), change=arrow(f.metric, f.change))
        for f in await store_figures(store.id, period)
    ]
    return say(deps, "cmd_store", store=store.name, lines="\n".join(lines))


async def subscribe_reply(deps: Deps, robot: str, by: str) -> str:
    """``订阅排行 <群机器人>``: the robot (named in SCRM_ROBOT_KEYS) receives the scheduled boards."""
    known = deps.settings.robot_keys()
    if robot not in known:
        detail = "、".join(known) or say(deps, "cmd_no_robots")
        raise CommandError(say(deps, "cmd_unknown_robot", robot=robot, detail=detail))
    created = await subscribe(robot, by, deps.clock.now())
    return say(deps, "cmd_subscribed" if created else "cmd_already_subscribed", robot=robot)
