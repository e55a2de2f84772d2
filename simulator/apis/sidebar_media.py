"""``media/upload``: temporary media (素材管理) for chat messages; a ``media_id`` lives 3 days.

A multipart upload (field ``media``), so it is its own aiohttp route rather than a JSON endpoint.
Limits as WeCom documents them: image ≤ 10 MB JPG/PNG, voice ≤ 2 MB AMR, video ≤ 10 MB MP4,
file ≤ 20 MB, every file > 5 bytes. The ``media_id`` is shared by the corp's apps and expires on
the simulator clock; ``sendChatMessage`` (the JS bridge) refuses an unknown or expired one.
"""

from __future__ import annotations

import json

from aiohttp import BodyPartReader, web

from simulator.browser import MEDIA_TTL, Media
from simulator.errors import ApiError, ErrCode
from simulator.keys import STATE_KEY
from simulator.models import ApiCall, UploadedMedia
from simulator.state import SimulatorState

__all__ = ["MEDIA_LIMITS", "upload_media"]

MEDIA_LIMITS: dict[str, int] = {"image": 10 << 20, "voice": 2 << 20, "video": 10 << 20, "file": 20 << 20}
_MAGIC: dict[str, tuple[bytes, ...]] = {"image": (b"\x89PNG", b"\xff\xd8\xff"), "voice": (b"#!AMR",)}


def _check_token(state: SimulatorState, token: str | None) -> None:
    record = state.tokens.get(token or "")
    if not token:
        raise ApiError(ErrCode.MISSING_ACCESS_TOKEN)
    if record is None:
        raise ApiError(ErrCode.INVALID_ACCESS_TOKEN)
    if state.now() >= record.expires_at:
        raise ApiError(ErrCode.ACCESS_TOKEN_EXPIRED)


async def _read_media(request: web.Request) -> tuple[str, bytes]:
    if not request.content_type.startswith("multipart/"):
        raise ApiError(ErrCode.MISSING_MEDIA, "multipart body expected")
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, BodyPartReader) and part.name == "media":
            return part.filename or "media", bytes(await part.read(decode=False))
    raise ApiError(ErrCode.MISSING_MEDIA, "no media part")


async def upload_media(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    media_type = request.query.get("type", "")
    call = ApiCall("media/upload", "POST", {"type": media_type}, None, state.now())
    state.calls.append(call)
    try:
        _check_token(state, request.query.get("access_token"))
        if media_type not in MEDIA_LIMITS:
            raise ApiError(ErrCode.INVALID_MEDIA_TYPE_PARAM, media_type)
        filename, data = await _read_media(request)
        if not 5 < len(data) <= MEDIA_LIMITS[media_type]:
            raise ApiError(ErrCode.INVALID_FILE_SIZE, f"{len(data)} bytes")
        magic = _MAGIC.get(media_type)
        if magic and not data.startswith(magic):
            raise ApiError(ErrCode.INVALID_MEDIA_FILE_TYPE, filename)
        now = state.now()
        media_id = state.ids.make("3sim", 60)
        state.browser.media[media_id] = Media(media_id, media_type, filename, len(data), now, now + MEDIA_TTL)
        state.media[media_id] = UploadedMedia(media_id, media_type, filename, data, now)  # what was uploaded
        answer = {"errcode": 0, "errmsg": "ok", "type": media_type, "media_id": media_id, "created_at": str(int(now))}
    except ApiError as err:
        answer = {"errcode": err.errcode, "errmsg": err.errmsg}
    call.errcode = int(answer["errcode"])  # type: ignore[call-overload]
    return web.json_response(answer, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


