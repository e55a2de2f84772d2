"""The sidebar's chat command: 重载话术库."""

from __future__ import annotations

from bot.commands import Call, command
from bot.dispatch import Router
from operators.roles import OPERATORS
from sidebar.chat import reload_reply

router = Router("sidebar")


@command("重载话术库", "reloadlibrary", "话术库", roles=OPERATORS, help="重新读取 sidebar.yaml（有误则不生效）")
async def reload_library(call: Call) -> str:
    return await reload_reply(call.deps)
