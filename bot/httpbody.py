"""Read a request body with a hard size cap, before anything parses it."""

from __future__ import annotations

from aiohttp import web

__all__ = ["BodyTooLarge", "read_body"]


class BodyTooLarge(Exception):
    pass


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, or BodyTooLarge past ``limit`` bytes (declared or actual).

    A declared length over the limit is refused unread; otherwise aiohttp's own cap
    (``client_max_size``) bounds what is read, and the limit is checked on what arrived.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BodyTooLarge from None
    if len(body) > limit:
        raise BodyTooLarge
    return body
