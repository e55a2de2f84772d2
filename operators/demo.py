"""The operators chapter of ``make demo``: the product run by chat command, a refusal, and a
guide's customers handed over when she leaves."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]


async def _command(n: Narrator, userid: str, text: str, *, expect: str = "") -> None:
    messages = await n.guide_writes(userid, text, expect=expect)
    n.show(f"{userid} › {text}")
    for message in messages:
        n.show_text(str(message.content.get("content", "")), indent="    ", limit=12)


async def chapter(n: Narrator) -> None:
    """The demo chapter (its feature's ``demo`` slot, bot/feature.py)."""
    n.add_member("operator01", "运营小赵")
    n.say("An operator runs the product from the WeCom app, by chat command")
    await _command(n, "operator01", "帮助")
    await _command(n, "operator01", "客户 “吴先生”")
    await _command(n, "operator01", "重算标签", expect="重算完成")

    n.say("A guide tries an operator's command: refused, and audited")
    await _command(n, "guide_sh01_a", "交接 李晓 王小美")

    n.say("李晓 leaves the store: the operator hands her customers over to 王小美 (externalcontact/transfer_customer)")
    await _command(n, "operator01", "交接 李晓 王小美")
    n.pass_time(timedelta(hours=24, seconds=1))  # the customers had 24 h to refuse; nobody did
    await n.run_tick("handover_check")
    await n.wait_for(lambda: any("交接完成" in str(m.content.get("content")) for m in n.messages_to("operator01")))
    n.show("operator01 ‹ " + str(n.messages_to("operator01")[-1].content["content"]).replace("\n", " / "))
