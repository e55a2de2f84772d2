"""What the group commands answer (``handlers/groups.py``): a code's picture, a new code, the figures.
Replies are config/templates.yaml's ``cmd_group_*``."""

from __future__ import annotations

from bot.commands import CommandError, say
from bot.deps import Deps
from bot.errors import RetryLater
from channels.service import store_named, store_of
from groups import service
from groups.config import GROUPS
from groups.image import send_code_image
from groups.models import GroupCode, GroupCodeChat

__all__ = ["TEMPLATES", "code_reply", "new_code_reply"]

TEMPLATES = ("cmd_group_code", "cmd_group_not_found", "cmd_group_created", "cmd_group_exists",
             "cmd_group_unknown_store", "cmd_group_no_owner", "cmd_group_waiting", "cmd_group_name_too_long",
             "cmd_group_busy")
MAX_NAME = 64


def refuse(deps: Deps, template_id: str, **values: object) -> CommandError:
    return CommandError(say(deps, template_id, **values))


async def _describe(deps: Deps, code: GroupCode, template_id: str) -> str:
    store = await store_of(code.store_id)
    listed = await GroupCodeChat.filter(code_id=code.id, listed=True).count()
    return say(deps, template_id, name=code.name, detail=code.state, store=store.name if store else "-",
               count=listed, members=deps.config[GROUPS].group_full_at)


async def code_reply(deps: Deps, userid: str, name: str, event_key: str) -> str:
    """``群码 <名称>``: the code's picture, then what it is."""
    code = await service.code_named(name)
    if code is None:
        raise refuse(deps, "cmd_group_not_found", name=name)
    if not code.config_id:
        store = await store_of(code.store_id)
        return say(deps, "cmd_group_waiting", name=code.name, store=store.name if store else "-",
                   detail=code.owner_userid)
    await send_code_image(deps, userid, code, event_key)
    return await _describe(deps, code, "cmd_group_code")


async def new_code_reply(deps: Deps, userid: str, name: str, store_word: str, event_key: str) -> str:
    """``新建群码 <名称> <门店>``: a code over the store owner's groups, its picture, what it is."""
    if len(name) > MAX_NAME:
        raise refuse(deps, "cmd_group_name_too_long", count=MAX_NAME)
    if await GroupCode.exists(name=name):
        raise refuse(deps, "cmd_group_exists", name=name)
    store = await store_named(store_word)
    if store is None:
        raise refuse(deps, "cmd_group_unknown_store", name=store_word)
    try:
        code = await service.new_chat_code(deps, userid, name, store)
    except RetryLater:
        raise refuse(deps, "cmd_group_busy") from None
    if code is None:
        raise refuse(deps, "cmd_group_no_owner", store=store.name)
    if not code.config_id:
        return say(deps, "cmd_group_waiting", name=code.name, store=store.name, detail=code.owner_userid)
    await send_code_image(deps, userid, code, event_key)
    return await _describe(deps, code, "cmd_group_created")
