"""Signed JSON intake from the brand's own systems (shop, POS, chat archive): authenticate, validate,
enqueue through the same durable stream as WeCom callbacks, answer 202 with a result per item.

Authentication per source: ``X-Source`` names it, ``X-Timestamp`` (unix seconds) must be within
5 minutes, ``X-Signature`` is hex HMAC-SHA256 with the source's secret over ``timestamp + "." + body``.
Secrets come from ``SCRM_SIGNAL_SECRETS`` ("shop=…,pos=…"). One bad item never sinks its batch.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from aiohttp import web
from redis.exceptions import RedisError

from bot.appkeys import DEPS
from bot.deps import Deps
from bot.httpbody import BodyTooLarge, read_body

__all__ = ["IntakeKind", "intake_handler", "parse_secrets", "signature_for", "signed_headers"]

log = structlog.get_logger(__name__)

MAX_BODY = 2 * 1024 * 1024
MAX_ITEMS = 500
WINDOW_S = 300


def parse_secrets(spec: str) -> dict[str, bytes]:
    secrets: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, secret = part.partition("=")
        if name and secret:
            secrets[name.strip()] = secret.strip().encode()
    return secrets


def signature_for(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(source: str, secret: bytes, body: bytes, timestamp: float) -> dict[str, str]:
    """The headers a sender (shop, POS, the demo, tests) signs a JSON ``body`` with."""
    ts = str(int(timestamp))
    return {"X-Source": source, "X-Timestamp": ts, "X-Signature": signature_for(secret, ts, body),
            "Content-Type": "application/json"}


class ItemRejected(ValueError):
    """This item is invalid; the message is the reason returned to the sender."""


@dataclass(frozen=True, slots=True)
class IntakeKind:
    """One intake endpoint: the JSON list it reads and how an item becomes a queued event."""

    source: str  # the stream source and handler kind, e.g. "order"
    list_field: str  # e.g. "orders"
    # item → (dedup key, normalised body); raises ItemRejected
    validate: Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]]]


def _unauthorized(reason: str, request: web.Request) -> web.Response:
    log.warning("intake_rejected", status=401, reason=reason, peer=request.remote)
    return web.json_response({"error": reason}, status=401)


def _authenticate(request: web.Request, deps: Deps, body: bytes) -> str | None:
    secrets = parse_secrets(deps.settings.scrm_signal_secrets.get_secret_value())
    source = request.headers.get("X-Source", "")
    timestamp = request.headers.get("X-Timestamp", "")
    signature = request.headers.get("X-Signature", "").lower()
    secret = secrets.get(source)
    if secret is None or not timestamp.isdigit():
        return None
    if abs(deps.clock.timestamp() - int(timestamp)) > WINDOW_S:
        return None
    if not hmac.compare_digest(signature_for(secret, timestamp, body), signature):
        return None
    return source


def intake_handler(kind: IntakeKind) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        deps = request.app[DEPS]
        try:
            body = await read_body(request, MAX_BODY)
        except BodyTooLarge:
            return web.json_response({"error": "body too large"}, status=413)
        sender = _authenticate(request, deps, body)
        if sender is None:
            return _unauthorized("bad or stale signature, or unknown source", request)
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return web.json_response({"error": "malformed JSON"}, status=400)
        items = document.get(kind.list_field) if isinstance(document, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
            return web.json_response({"error": f'expected {{"{kind.list_field}": [1..{MAX_ITEMS} items]}}'}, status=400)
        results: list[dict[str, Any]] = []
        queued: list[tuple[int, str, str]] = []
        for index, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise ItemRejected("not an object")
                key, normalised = kind.validate(item)
            except ItemRejected as err:
                results.append({"index": index, "status": "rejected", "reason": str(err)})
                continue
            normalised["_sender"] = sender
            results.append({"index": index, "status": "accepted", "key": key})
            queued.append((index, key, orjson.dumps(normalised).decode()))
        try:
            with deps.deadlines.within(deps.settings.scrm_enqueue_timeout_s * 2):
                ids = await deps.queue.append_many(kind.source, [(k, b) for _, k, b in queued], deps.clock.timestamp())
        except (RedisError, OSError, TimeoutError) as err:
            log.error("intake_enqueue_failed", source=kind.source, error=type(err).__name__)
            return web.json_response({"error": "queue unavailable, retry later"}, status=503)
        for (index, _key, _body), stream_id in zip(queued, ids, strict=True):
            if stream_id is None:
                results[index]["status"] = "duplicate"
        counts = {s: sum(1 for r in results if r["status"] == s) for s in ("accepted", "duplicate", "rejected")}
        log.info("intake_batch", source=kind.source, sender=sender, **counts)
        return web.json_response({"results": results, **counts}, status=202)

    return handle
