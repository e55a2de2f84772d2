"""A group code's picture to a member: WeCom's ``qr_code`` image, uploaded once as a temporary
material (valid 3 days; re-uploaded after 2.5) and sent as an image app message — as 渠道码 does."""

from __future__ import annotations

from datetime import timedelta

import structlog

from bot.deps import Deps
from bot.outbox import send_once
from bot.wecom.client import Upload
from groups.models import GroupCode

__all__ = ["send_code_image"]

log = structlog.get_logger(__name__)

_MEDIA_REUSE = timedelta(hours=60)  # WeCom keeps a temporary material 72 h: leave a margin


async def _media_id(deps: Deps, code: GroupCode) -> str:
    now = deps.clock.now()
    if code.media_id and code.media_uploaded_at is not None and now - code.media_uploaded_at < _MEDIA_REUSE:
        return code.media_id
    picture = await deps.wecom.download(code.qr_code)
    media_id = await deps.wecom.upload_media("image", Upload(f"{code.state}.png", picture, "image/png"))
    await GroupCode.filter(id=code.id).update(media_id=media_id, media_uploaded_at=now)
    log.info("group_code_uploaded", code=code.state, bytes=len(picture))
    return media_id


async def send_code_image(deps: Deps, userid: str, code: GroupCode, key: str) -> bool:
    """The code's image to ``userid``, once per ``key`` (a re-delivered command sends nothing more)."""

    async def send() -> None:
        await deps.wecom.send_image([userid], await _media_id(deps, code))

    return await send_once(f"gcode:{key}", "group_code", userid, send, deps.clock)
