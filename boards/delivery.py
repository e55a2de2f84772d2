"""Sending the boards: group robots (markdown + chart) for HQ, app messages for store managers.

Every message is send-once (the outbox key names period, robot or member, and part), so a retried
job sends only what did not go out; robots are paced at ``SCRM_ROBOT_PER_MINUTE`` (WeCom: 20 a
minute per robot) across all processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import structlog

from boards.chart import chart_font_path, render_chart
from boards.config import LEADERBOARD
from boards.periods import Period, last_complete
from boards.report import render_boards, render_guides_of_store
from boards.service import Boards, build_boards
from bot.deps import Deps
from bot.errors import PermanentFailure
from bot.lease import lease
from bot.outbox import send_once
from bot.ratelimit import SharedRateLimiter
from customers.models import Guide, Role, Store
from operators.models import RobotSubscription

__all__ = ["Delivery", "TEMPLATES", "deliver_boards", "subscribe", "chart_of"]

TEMPLATES = ("board_chart_empty",)  # what the chart says of a board without rows

log = structlog.get_logger(__name__)

_LEASE_S = 600


@dataclass(frozen=True, slots=True)
class Delivery:
    period: Period
    robot_messages: int
    manager_messages: int
    unknown_robots: tuple[str, ...]


async def subscribe(robot: str, by: str, at: datetime) -> bool:
    """Subscribe the robot named ``robot`` to the scheduled boards; False if it already was."""
    _row, created = await RobotSubscription.get_or_create(robot=robot, defaults={"created_by": by, "created_at": at})
    return created


async def chart_of(deps: Deps, boards: Boards) -> bytes:
    conf = deps.config[LEADERBOARD]
    board = boards.stores if conf.chart == "store" else boards.guides
    templates = deps.config.templates
    title = templates.render(f"board_chart_title_{conf.chart}", period=templates.render(boards.period.template_id),
                             dates=boards.period.label(), metric=board.metric.label)
    empty = templates.render("board_chart_empty")
    configured = deps.settings.scrm_chart_font

    def draw() -> bytes:  # finding the font reads files; drawing is CPU: both off the event loop
        return render_chart(board, title, chart_font_path(configured), empty=empty)

    return await asyncio.to_thread(draw)


async def _robot_send(deps: Deps, robot: str, outbox_key: str, send_part: Callable[[], Awaitable[None]]) -> bool:
    limiter = SharedRateLimiter(
        deps.redis, f"{{{deps.settings.scrm_redis_prefix}}}:robot:{robot}", deps.settings.scrm_robot_per_minute,
        window_s=60,
    )

    async def send() -> None:
        await limiter.acquire()
        await send_part()

    return await send_once(outbox_key, "leaderboard", robot[:64], send, deps.clock)


async def deliver_boards(deps: Deps, kind: str, at: datetime) -> Delivery:
    """The scheduled boards of the period before ``at``: to every subscribed robot and store manager."""
    period = last_complete(kind, at, deps.settings.scrm_timezone)
    slot = f"board:{kind}:{period.start:%Y%m%d}"
    # The outbox stops a retry from repeating a send; this lease stops two workers running the same
    # board at the same moment (a reclaimed job racing a slow one), which the outbox alone cannot.
    key = f"{{{deps.settings.scrm_redis_prefix}}}:lease:{slot}"
    async with lease(deps.redis, key, _LEASE_S) as held:
        if not held:
            log.info("boards_already_running", period=kind, start=period.start.isoformat())
            return Delivery(period, 0, 0, ())
        return await _deliver(deps, period, slot)


async def _deliver(deps: Deps, period: Period, slot: str) -> Delivery:
    kind = period.kind
    conf = deps.config[LEADERBOARD]
    boards = await build_boards(deps, period)
    keys = deps.settings.robot_keys()
    robot_messages = 0
    unknown: list[str] = []
    subscriptions = await RobotSubscription.all().order_by("id")
    if subscriptions:
        markdown = render_boards(deps.config.templates, boards, top=conf.top, bottom=conf.bottom)
        png = await chart_of(deps, boards)
        for sub in subscriptions:
            key = keys.get(sub.robot)
            if key is None:
                unknown.append(sub.robot)
                log.warning("robot_without_key", robot=sub.robot)
                continue
            try:
                sent_md = await _robot_send(deps, sub.robot, f"{slot}:robot:{sub.robot}:md",
                                            partial(deps.wecom.webhook_markdown, key, markdown))
                sent_png = await _robot_send(deps, sub.robot, f"{slot}:robot:{sub.robot}:png",
                                             partial(deps.wecom.webhook_image, key, png))
            except PermanentFailure as err:  # a revoked key: the other robots still get theirs
                log.warning("board_not_sent", robot=sub.robot, error=str(err))
                continue
            robot_messages += int(sent_md) + int(sent_png)
    manager_messages = await _managers(deps, boards, slot)
    log.info("boards_delivered", period=kind, start=period.start.isoformat(), robot_messages=robot_messages,
             manager_messages=manager_messages)
    return Delivery(period, robot_messages, manager_messages, tuple(unknown))


async def _managers(deps: Deps, boards: Boards, slot: str) -> int:
    sent = 0
    stores = {s.id: s.name for s in await Store.all()}
    for manager in await Guide.filter(role=Role.STORE_MANAGER, active=True, store_id__isnull=False):
        store_id: int = manager.store_id  # type: ignore[assignment]
        text = render_guides_of_store(deps.config.templates, boards, store_id, stores.get(store_id, ""))

        async def send(to: str = manager.userid, content: str = text) -> None:
            await deps.wecom.send_markdown([to], content)

        try:
            sent += int(await send_once(f"{slot}:manager:{manager.userid}", "leaderboard", manager.userid, send,
                                        deps.clock))
        except PermanentFailure as err:  # one unreachable manager (left, not in the app) stops no one else
            log.warning("board_not_sent", userid=manager.userid, error=str(err))
    return sent
