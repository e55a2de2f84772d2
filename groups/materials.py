"""A sidebar library item (config/sidebar.yaml) as a WeCom attachment: for a group mass send
(``{"msgtype": kind, kind: {...}}``) and for a group welcome template (``{kind: {...}}``)."""

from __future__ import annotations

from typing import Any

from bot.configfiles import ConfigError
from bot.deps import Deps
from bot.wecom.client import Upload
from sidebar.config import LIBRARY
from sidebar.materials import media_id_for

__all__ = ["attachment_body"]


async def attachment_body(deps: Deps, item_id: str) -> tuple[str, dict[str, Any]] | None:
    """(kind, fields) for the item, uploading a picture when it needs one; None: no item given."""
    if not item_id:
        return None
    item = deps.config[LIBRARY].items.get(item_id)
    if item is None:  # checked at load; removed by a reload since the step was read
        raise ConfigError(f"library item {item_id!r} is gone from sidebar.yaml")
    if item.kind in ("image", "file"):
        return item.kind, {"media_id": await media_id_for(deps, item)}
    if item.kind == "link":
        return "link", {"title": item.title, "picurl": item.image_url, "desc": item.desc, "url": item.url}
    if item.kind == "miniprogram":
        picture = await deps.wecom.download(item.image_url)
        media_id = await deps.wecom.upload_media("image", Upload(f"{item.id}.png", picture, "image/png"))
        return "miniprogram", {"title": item.title, "pic_media_id": media_id, "appid": item.appid,
                               "page": item.page}
    return None  # a text item: its words are the text itself
