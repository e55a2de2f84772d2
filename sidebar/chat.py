"""The sidebar's chat reply: ``重载话术库`` (from config/templates.yaml)."""

from __future__ import annotations

from bot.configfiles import ConfigError
from bot.deps import Deps
from sidebar.store import publish_library

__all__ = ["reload_reply"]


async def reload_reply(deps: Deps) -> str:
    """Check ``config/sidebar.yaml`` and tell every web process to use it; a broken file changes nothing."""
    settings, templates = deps.settings, deps.config.templates
    try:
        library = await publish_library(deps.redis, settings.scrm_redis_prefix, settings.scrm_config_dir)
    except ConfigError as err:
        return templates.render("cmd_library_invalid", detail=str(err)[-300:])
    return templates.render("cmd_library_reloaded", count=len(library.items))
