"""The boards chapter of ``make demo``: HQ subscribes its group robot, a week of business in the
two stores (customers added and lost, day by day, guide by guide), and on Monday at 09:00 the
weekly board and its chart arrive in HQ's group."""

from __future__ import annotations

import base64
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from boards.chart import chart_font_path
from boards.config import LEADERBOARD
from boards.periods import last_complete
from boards.service import build_boards

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]

GUIDES = {"guide_sh01_a": ("王小美", "store_sh01"), "guide_sh01_b": ("李晓", "store_sh01"),
          "guide_hz01_a": ("陈静", "store_hz01")}
# Whose code is scanned, day by day (Monday first), one an hour from 11:00; a "-" entry is that
# guide's first customer of the day deleting them again.
WEEK: tuple[tuple[str, ...], ...] = (
    ("guide_sh01_a", "guide_sh01_a", "guide_hz01_a"),
    ("guide_sh01_b", "guide_hz01_a"),
    ("guide_sh01_a", "guide_sh01_b", "-guide_sh01_a"),
    ("guide_hz01_a", "guide_hz01_a"),
    ("guide_sh01_a", "guide_sh01_b", "guide_sh01_b"),
    ("guide_sh01_a", "guide_sh01_a", "guide_sh01_b", "guide_hz01_a", "guide_hz01_a", "-guide_hz01_a"),
    ("guide_sh01_a", "guide_hz01_a"),
)
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
WEEKDAYS = "一二三四五六日"


async def _week(n: Narrator) -> None:
    monday = n.pass_until(10, 0)
    while monday.weekday() != 0:
        monday = n.pass_until(10, 0)
    sunday = monday + timedelta(days=6)
    n.say(f"A week of business in the two stores, Monday {monday:%m-%d} to Sunday {sunday:%m-%d} (customers "
          "scan the store codes; a few delete their guide again)")
    number = 0
    for day, moves in enumerate(WEEK):
        firsts: dict[str, str] = {}
        added: dict[str, int] = {}
        lost: list[str] = []
        for hour, move in enumerate(moves):
            n.pass_until(11 + hour, 0)
            if move.startswith("-"):
                guide = move[1:]
                await n.customer_deletes(guide, firsts[guide])
                lost.append(GUIDES[guide][0])
                continue
            number += 1
            external_userid = f"wmDemoWeek{number:02d}"
            name = SURNAMES[number % len(SURNAMES)] + ("女士" if number % 3 else "先生")
            await n.customer_scans(move, external_userid, name, state=GUIDES[move][1])
            firsts.setdefault(move, external_userid)
            added[GUIDES[move][0]] = added.get(GUIDES[move][0], 0) + 1
        gains = "，".join(f"{who} +{count}" for who, count in added.items())
        losses = "".join(f"，{who} −1（客户删除）" for who in lost)
        n.show(f"周{WEEKDAYS[day]} {n.local_now():%m-%d}: {gains}{losses}")
        if day < len(WEEK) - 1:
            n.pass_until(10, 0)


async def chapter(n: Narrator) -> None:
    """The demo chapter (its feature's ``demo`` slot, bot/feature.py)."""
    for userid, name in (("admin01", "系统管理员"), ("guide_sh01_b", "李晓"), ("manager_hz01", "刘店长")):
        n.add_member(userid, name)
    n.say("The admin subscribes HQ's group robot to the boards")
    for message in await n.guide_writes("admin01", "订阅排行 HQ群"):
        n.show(f"admin01 › 订阅排行 HQ群 ‹ {message.content.get('content')}")

    await _week(n)

    local = n.pass_until(9, 0)
    n.say(f"Monday {local:%m-%d %H:%M}: the weekly board (周榜) arrives in HQ's group, with its chart")
    await n.run_tick("board_weekly")
    deps = n.deps
    for robot_key, posts in n.robot_messages().items():
        for post in posts:
            if post.msgtype == "markdown":
                n.show(f"robot {robot_key[:6]}… markdown ({len(post.payload['content'].encode())} bytes):")
                n.show_text(str(post.payload["content"]), indent="    ", limit=16)
            else:
                png = base64.b64decode(post.payload["base64"])
                path = Path(tempfile.gettempdir()) / "scrm-demo-board.png"
                path.write_bytes(png)
                n.show(f"robot {robot_key[:6]}… image: {len(png):,} byte PNG bar chart, Chinese labels in "
                       f"{Path(chart_font_path(deps.settings.scrm_chart_font)).name} (saved to {path})")
    boards = await build_boards(deps, last_complete("weekly", n.now(), deps.settings.scrm_timezone))
    board = boards.stores if deps.config[LEADERBOARD].chart == "store" else boards.guides
    n.show(f"the chart's bars ({board.metric.label}): "
           + "，".join(f"{row.label} {row.value:g}" for row in board.rows))
    managers = [m for m in n.messages_to("manager_sh01") if "排行" in str(m.content.get("content", ""))]
    if managers:
        n.show("张店长 gets her store's guides as an app message:")
        n.show_text(str(managers[-1].content["content"]), indent="    ", limit=8)
