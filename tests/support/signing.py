"""Posting to the signed intake endpoints as the brand's systems do."""

from __future__ import annotations

import time
from typing import Any

import orjson

from bot.intake import signature_for


async def post_signed(
    stack: Any, path: str, document: Any, *, source: str = "shop", secret: bytes = b"test-shop-secret",
    timestamp: int | None = None, raw: bytes | None = None,
) -> tuple[int, Any]:
    body = raw if raw is not None else orjson.dumps(document)
    ts = str(timestamp if timestamp is not None else int(stack.deps.clock.timestamp()))
    headers = {"X-Source": source, "X-Timestamp": ts, "X-Signature": signature_for(secret, ts, body),
               "Content-Type": "application/json"}
    async with stack.http.post(stack.app.url + path, data=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


def unix_now() -> int:
    return int(time.time())
