"""Temporary materials: ``media/upload`` (multipart form, field ``media``) → a ``media_id`` for 3 days."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from bot.simulator.apis.base import ApiRequest, Endpoint, optional_dict
from bot.simulator.errors import ApiError, ErrCode
from bot.simulator.models import UploadedMedia

__all__ = ["ENDPOINTS", "MEDIA_TTL", "read_multipart"]

MEDIA_TTL = 3 * 86400.0
_MAX_BYTES = {"image": 10 * 1024 * 1024, "voice": 2 * 1024 * 1024, "video": 10 * 1024 * 1024,
              "file": 20 * 1024 * 1024}
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")
_MIN_BYTES = 5


async def read_multipart(request: web.Request) -> dict[str, Any]:
    """A multipart body as a JSON-safe mapping: each file field → {filename, content_type, base64}."""
    fields: dict[str, Any] = {}
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            content = value.file.read()
            fields[name] = {"filename": value.filename, "content_type": value.content_type,
                            "base64": base64.b64encode(content).decode()}
        else:
            fields[name] = str(value)
    return fields


def upload(request: ApiRequest) -> dict[str, Any]:
    media_type = request.query.get("type", "")
    if media_type not in _MAX_BYTES:
        raise ApiError(ErrCode.INVALID_MEDIA_TYPE, media_type)
    part = optional_dict(request.body, "media")
    if part is None or not part.get("base64"):
        raise ApiError(ErrCode.MISSING_MEDIA, "missing multipart field media")
    content = base64.b64decode(part["base64"])
    if not _MIN_BYTES <= len(content) <= _MAX_BYTES[media_type]:
        raise ApiError(ErrCode.INVALID_IMAGE_SIZE if media_type == "image" else ErrCode.INVALID_PARAMETER, "size")
    if media_type == "image" and not content.startswith(_IMAGE_MAGIC):
        raise ApiError(ErrCode.INVALID_FILE_TYPE, "images are jpg or png")
    state = request.state
    media = UploadedMedia(state.ids.make("3", 64), media_type, str(part.get("filename", "")), content, request.now)
    state.media[media.media_id] = media
    return {"type": media_type, "media_id": media.media_id, "created_at": str(int(request.now))}


ENDPOINTS = (Endpoint("media/upload", "POST", upload),)
