"""A code's picture to a member: WeCom's ``qr_code`` image, uploaded once as a temporary material
(``media/upload``, valid 3 days; re-uploaded after 2.5) and sent as an image app message."""

from __future__ import annotations

from datetime import timedelta

import structlog

from bot.deps import Deps
from bot.outbox import send_once
from bot.wecom.client import Upload
from channels.models import ContactWay

__all__ = ["media_id_of", "send_code_image"]

log = structlog.get_logger(__name__)

_MEDIA_REUSE = timedelta(hours=60)  # WeCom keeps a temporary material 72 h: leave a margin


async def media_id_of(deps: Deps, way: ContactWay) -> str:
    now = deps.clock.now()
    if way.media_id and way.media_uploaded_at is not None and now - way.media_uploaded_at < _MEDIA_REUSE:
        return way.media_id
    picture = await deps.wecom.download(way.qr_code)
    await way.fetch_related("channel")
    media_id = await deps.wecom.upload_media("image", Upload(f"{way.channel.state}.png", picture, "image/png"))
    way.media_id, way.media_uploaded_at = media_id, now
    await way.save(update_fields=["media_id", "media_uploaded_at", "updated_at"])
    log.info("channel_code_uploaded", way_id=way.id, bytes=len(picture))
    return media_id


async def send_code_image(deps: Deps, userid: str, way: ContactWay, key: str) -> bool:
    """The code's image to ``userid``, once per ``key`` (a re-delivered command sends nothing more)."""

    async def send() -> None:
        await deps.wecom.send_image([userid], await media_id_of(deps, way))

    return await send_once(f"code:{key}", "channel_code", userid, send, deps.clock)
