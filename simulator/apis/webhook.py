"""Group robots: ``webhook/send?key=KEY`` (no access token; sizes and 20 messages a minute checked)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from simulator.apis.base import ApiRequest, Endpoint, optional_dict, optional_str, require_str
from simulator.errors import ApiError, ErrCode
from simulator.faults import SlidingWindow
from simulator.models import RobotMessage
from simulator.state import ROBOT_MESSAGES_PER_MINUTE

__all__ = ["ENDPOINTS"]

_TEXT_MAX_BYTES = 2048
_MARKDOWN_MAX_BYTES = 4096
_IMAGE_MAX_BYTES = 2 * 1024 * 1024
_MAX_ARTICLES = 8
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # jpg, png


def _check_text(payload: dict[str, Any], kind: str, max_bytes: int) -> None:
    content = optional_str(payload, "content")
    if not content:
        raise ApiError(ErrCode.EMPTY_CONTENT, f"{kind}.content")
    if len(content.encode()) > max_bytes:
        # What WeCom answers for an oversize robot message: 40058 naming the field and the limit.
        raise ApiError(ErrCode.INVALID_PARAMETER, f"{kind}.content exceed max length {max_bytes}")


def _check_image(payload: dict[str, Any]) -> None:
    encoded = require_str(payload, "base64")
    md5 = require_str(payload, "md5")
    try:
        image = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ApiError(ErrCode.INVALID_PARAMETER, "image.base64 is not base64") from err
    if len(image) > _IMAGE_MAX_BYTES:
        raise ApiError(ErrCode.INVALID_IMAGE_SIZE, f"image exceeds {_IMAGE_MAX_BYTES} bytes")
    if hashlib.md5(image).hexdigest() != md5.lower():  # noqa: S324 - WeCom's integrity check, not security
        raise ApiError(ErrCode.INVALID_PARAMETER, "image.md5 does not match the image")
    if not image.startswith(_IMAGE_MAGIC):
        raise ApiError(ErrCode.INVALID_PARAMETER, "image must be jpg or png")


def _check_payload(msgtype: str, payload: dict[str, Any]) -> None:
    if msgtype == "text":
        _check_text(payload, "text", _TEXT_MAX_BYTES)
    elif msgtype in ("markdown", "markdown_v2"):
        _check_text(payload, msgtype, _MARKDOWN_MAX_BYTES)
    elif msgtype == "image":
        _check_image(payload)
    elif msgtype == "news":
        articles = payload.get("articles")
        if not isinstance(articles, list) or not articles:
            raise ApiError(ErrCode.INVALID_PARAMETER, "news.articles is required")
        if len(articles) > _MAX_ARTICLES:
            raise ApiError(ErrCode.TOO_MANY_ARTICLES)
    elif msgtype == "file":
        require_str(payload, "media_id", ErrCode.INVALID_MEDIA_ID)
    elif msgtype != "template_card":
        raise ApiError(ErrCode.INVALID_MSGTYPE, msgtype)


def send_robot_message(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    key = optional_str(request.query, "key")
    if not key:
        raise ApiError(ErrCode.INVALID_WEBHOOK_URL, "missing key")
    msgtype = require_str(request.body, "msgtype", ErrCode.INVALID_MSGTYPE)
    payload = optional_dict(request.body, msgtype)
    if payload is None:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"missing {msgtype}")
    _check_payload(msgtype, payload)
    window = state.robot_windows.setdefault(key, SlidingWindow(ROBOT_MESSAGES_PER_MINUTE, state.now))
    if not window.try_acquire():
        raise ApiError(ErrCode.FREQUENCY_LIMIT, f"{ROBOT_MESSAGES_PER_MINUTE} messages a minute per robot")
    state.robot_messages.setdefault(key, []).append(RobotMessage(key, msgtype, payload, request.now))
    return {}


ENDPOINTS = (Endpoint("webhook/send", "POST", send_robot_message, needs_token=False),)
