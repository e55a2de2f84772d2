"""change_external_tag (企业客户标签变更): the event names the tag, not its content — re-read the list."""

from __future__ import annotations

from bot.deps import Deps
from bot.dispatch import Router
from bot.events import Event
from customers.tags import sync_corp_tags

router = Router("tags")


@router.on("internal", "sync_corp_tags")
@router.event("change_external_tag")
async def on_corp_tags_changed(event: Event, deps: Deps) -> None:
    # create / update / delete / shuffle alike: one get_corp_tag_list keeps the mirror exact,
    # including tags deleted in WeCom (absent from the list → marked deleted here).
    await sync_corp_tags(deps)
