"""The sidebar's chat command: 重载话术库."""

from __future__ import annotations

from bot.commands import Call, command
from bot.configfiles import ConfigError
from bot.dispatch import Router
from operators.roles import OPERATORS
from sidebar.store import publish_library

router = Router("sidebar")


@command("重载话术库", "reloadlibrary", "话术库", roles=OPERATORS, help="重新读取 sidebar.yaml（有误则不生效）")
async def reload_library(call: Call) -> str:
    settings = call.deps.settings
    try:
        library = await publish_library(call.deps.redis, settings.scrm_redis_prefix, settings.scrm_config_dir)
    except ConfigError as err:
        return call.say("cmd_library_invalid", detail=str(err)[-300:])
    return call.say("cmd_library_reloaded", count=len(library.items))
