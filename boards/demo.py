"""The operators' part of ``make demo``: commands in chat, a refusal, a hand-over, HQ's board."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from boards.chart import chart_font_path
from boards.delivery import deliver_boards, subscribe
from bot.appkeys import DEPS
from bot.demokit import DemoRun, say, show, wait_for
from bot.scheduler import Tick, fire
from simulator.callbacks import CallbackSender
from simulator.state import SimulatorState

__all__ = ["operators_story"]

Say = Callable[[str], None]
WaitFor = Callable[..., Awaitable[float]]


async def operators_story(
    app: web.Application, state: SimulatorState, sender: CallbackSender, say: Say, show: Say, wait_for: WaitFor
) -> None:
    deps = app[DEPS]
    for userid, name in (("operator01", "运营小赵"), ("admin01", "系统管理员"), ("guide_sh01_b", "李晓"),
                         ("manager_hz01", "刘店长")):
        state.add_member(userid, name)

    async def command(userid: str, text: str, *, expect: str = "") -> None:
        before = len(state.messages_to(userid))
        await sender.send(state.guide_sends_text(userid, text))

        def answered() -> bool:
            new = state.messages_to(userid)[before:]
            return bool(new) and (not expect or any(expect in str(m.content.get("content")) for m in new))

        await wait_for(answered)
        show(f"{userid} › {text}")
        for message in state.messages_to(userid)[before:]:
            for line in str(message.content.get("content", "")).splitlines()[:12]:
                show(f"    {line}")

    say("An operator runs the product from the WeCom app, by chat command")
    await command("operator01", "帮助")
    await command("operator01", "客户 “吴先生”")
    await command("operator01", "重算标签", expect="重算完成")

    say("A guide tries an operator's command: refused, and audited")
    await command("guide_sh01_a", "交接 王小美 李晓")

    say("王小美 leaves the store: the operator hands her customers over to 李晓 (externalcontact/transfer_customer)")
    for external_userid, name in (("wmDemoHand1", "郑女士"), ("wmDemoHand2", "孙先生")):
        await sender.send(state.customer_scans_qr("guide_sh01_a", external_userid, state="store_sh01", name=name))
    await wait_for(lambda: state.count_calls("externalcontact/send_welcome_msg") >= 4)
    await command("operator01", "交接 王小美 李晓")
    state.advance(24 * 3600 + 1)  # the customers had 24 h to refuse; nobody did
    await fire(deps, Tick("handover_check", every_s=deps.settings.scrm_handover_check_every_s))
    await wait_for(lambda: any("交接完成" in str(m.content.get("content")) for m in state.messages_to("operator01")))
    show("operator01 ‹ " + str(state.messages_to("operator01")[-1].content["content"]).replace("\n", " / "))

    say("The admin subscribes HQ's group robot; at 09:00 the daily board arrives there with its chart")
    await command("admin01", "订阅排行 HQ群")
    # As tomorrow's 09:00 tick would: the daily board covers today.
    await deliver_boards(deps, "daily", deps.clock.now() + timedelta(days=1))
    for robot_key, messages in state.robot_messages.items():
        for message in messages:
            if message.msgtype == "markdown":
                show(f"robot {robot_key[:6]}… markdown ({len(message.payload['content'].encode())} bytes):")
                for line in str(message.payload["content"]).splitlines()[:14]:
                    show(f"    {line}")
            else:
                png = base64.b64decode(message.payload["base64"])
                path = Path(tempfile.gettempdir()) / "scrm-demo-board.png"
                path.write_bytes(png)
                show(f"robot {robot_key[:6]}… image: {len(png):,} byte PNG bar chart, Chinese labels in "
                     f"{Path(chart_font_path(deps.settings.scrm_chart_font)).name} (saved to {path})")
    await subscribe("HQ群", "admin01", deps.clock.now())  # already there: nothing changes


async def chapter(run: DemoRun) -> None:
    """The demo chapter (bot/features.py)."""
    await operators_story(run.app, run.state, run.sender, say, show, wait_for)
