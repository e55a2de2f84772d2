"""Image and file materials: uploaded with ``media/upload`` when first sent, the ``media_id`` kept.

WeCom's temporary ``media_id`` lives 3 days; we keep it in Redis for 2.5 days, so a send after
that uploads again and a guide never gets an expired one. The key holds the file's digest: an
operator who replaces the file gets a new upload at once.
"""

from __future__ import annotations

import asyncio

import aiohttp
import structlog

from bot.deps import Deps
from bot.wecom.errors import TOKEN_ERRCODES, WeComError
from sidebar.config import LibraryItem

__all__ = ["KEEP_S", "media_id_for"]

log = structlog.get_logger(__name__)

KEEP_S = int(2.5 * 86400)  # renewed half a day before WeCom's 3 days run out


def _key(deps: Deps, item: LibraryItem) -> str:
    return f"{{{deps.settings.scrm_redis_prefix}}}:sidebar:media:{item.id}:{item.file_digest}"


async def _upload(deps: Deps, item: LibraryItem) -> str:
    assert item.file is not None
    data = await asyncio.to_thread(item.file.read_bytes)
    url = f"{deps.settings.wecom_api_base.rstrip('/')}/cgi-bin/media/upload"
    for attempt in range(2):
        token = await deps.wecom.tokens.get()
        form = aiohttp.FormData()
        form.add_field("media", data, filename=item.file.name, content_type="application/octet-stream")
        params = {"access_token": token, "type": item.kind}
        async with deps.http.post(url, params=params, data=form, timeout=aiohttp.ClientTimeout(total=30)) as resp:
            answer = await resp.json(content_type=None)
        errcode = int(answer.get("errcode", 0))
        if errcode == 0:
            log.info("sidebar_media_uploaded", item=item.id, kind=item.kind)
            return str(answer["media_id"])
        if errcode in TOKEN_ERRCODES and attempt == 0:
            await deps.wecom.tokens.invalidate(token)
            continue
        raise WeComError(errcode, str(answer.get("errmsg", "")), "media/upload")
    raise WeComError(None, "token refused twice", "media/upload")


async def media_id_for(deps: Deps, item: LibraryItem) -> str:
    key = _key(deps, item)
    cached = await deps.redis.get(key)
    if cached:
        return cached.decode() if isinstance(cached, bytes) else str(cached)
    media_id = await _upload(deps, item)
    await deps.redis.set(key, media_id, ex=KEEP_S)
    return media_id
