"""Image and file materials: uploaded with ``media/upload`` when first sent, the ``media_id`` kept.

WeCom's temporary ``media_id`` lives 3 days; we keep it in Redis for 2.5 days, so a send after
that uploads again and a guide never gets an expired one. The key holds the file's digest: an
operator who replaces the file gets a new upload at once.
"""

from __future__ import annotations

import asyncio

import structlog

from bot.deps import Deps
from bot.wecom.client import Upload
from sidebar.config import LibraryItem

__all__ = ["KEEP_S", "media_id_for"]

log = structlog.get_logger(__name__)

KEEP_S = int(2.5 * 86400)  # renewed half a day before WeCom's 3 days run out


def _key(deps: Deps, item: LibraryItem) -> str:
    return f"{{{deps.settings.scrm_redis_prefix}}}:sidebar:media:{item.id}:{item.file_digest}"


async def _upload(deps: Deps, item: LibraryItem) -> str:
    """Through the client, like every WeCom call: token, retries, and media/upload's shared budget."""
    assert item.file is not None
    data = await asyncio.to_thread(item.file.read_bytes)
    media_id = await deps.wecom.upload_media(item.kind, Upload(item.file.name, data, "application/octet-stream"))
    log.info("sidebar_media_uploaded", item=item.id, kind=item.kind)
    return media_id


async def media_id_for(deps: Deps, item: LibraryItem) -> str:
    key = _key(deps, item)
    cached = await deps.redis.get(key)
    if cached:
        return cached.decode() if isinstance(cached, bytes) else str(cached)
    media_id = await _upload(deps, item)
    await deps.redis.set(key, media_id, ex=KEEP_S)
    return media_id
