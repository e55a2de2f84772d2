"""Read a request body with a hard size cap and a deadline, before anything parses it."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.appkeys import SETTINGS

__all__ = ["BodyTimeout", "BodyTooLarge", "read_body"]


class BodyTooLarge(Exception):
    pass


class BodyTimeout(web.HTTPRequestTimeout):
    """The body did not arrive in time (a stalled or trickling sender). An HTTP 408 as raised, so
    a route that does not catch it still answers 408, never 500."""

    def __init__(self) -> None:
        super().__init__(text="request body not received in time")


async def read_body(request: web.Request, limit: int, timeout_s: float | None = None) -> bytes:
    """The body, or BodyTooLarge past ``limit`` bytes (declared or actual), or BodyTimeout when it
    has not all arrived within ``timeout_s`` (default ``SCRM_BODY_TIMEOUT_S``).

    The cap is enforced while reading: nothing past ``limit`` (plus the chunk that crossed it) is
    ever held, whatever the declared length or the chunking.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge
    content = request.content
    if content.is_eof():
        # The whole body came with the headers (the common case): nothing to wait for.
        body = await content.read()
        if len(body) > limit:
            raise BodyTooLarge
        return body
    if timeout_s is None:
        timeout_s = request.app[SETTINGS].scrm_body_timeout_s
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while chunk := await content.readany():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout from None
    return b"".join(chunks)
