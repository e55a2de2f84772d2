"""Posting to the signed intake endpoints as the brand's systems do."""

from __future__ import annotations

from typing import Any

import orjson

from bot.intake import signed_headers


async def post_signed(
    stack: Any, path: str, document: Any, *, source: str = "shop", secret: bytes = b"test-shop-secret",
    timestamp: int | None = None, raw: bytes | None = None,
) -> tuple[int, Any]:
    body = raw if raw is not None else orjson.dumps(document)
    at = timestamp if timestamp is not None else stack.deps.clock.timestamp()
    headers = signed_headers(source, secret, body, at, path=path)  # v2: the signature covers the path
    async with stack.http.post(stack.app.url + path, data=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)
