"""Signed JSON intake from the brand's own systems (shop, POS, chat archive): authenticate, validate,
enqueue through the same durable stream as WeCom callbacks, answer 202 with a result per item.

Authentication per source: ``X-Source`` names it, ``X-Timestamp`` (unix seconds) must be within
5 minutes, and ``X-Signature`` is HMAC-SHA256 with the source's secret, in one of two versions:

- ``v2=<hex>`` over ``"v2\n" + METHOD + "\n" + path + "\n" + timestamp + "\n" + body``: one signed
  body is good for one endpoint only;
- ``<hex>`` over ``timestamp + "." + body`` (the first scheme; refused unless
  ``SCRM_INTAKE_LEGACY_SIGNATURES=true``).

Secrets come from ``SCRM_SIGNAL_SECRETS`` ("shop=…,pos=…"); ``SCRM_INTAKE_ENDPOINTS`` lists the paths
each source may post to (closed by default: a source not listed posts nowhere, 403 naming the setting).
Malformed headers get 400 or 401, never 500. One bad item never sinks its batch, and the sender is part
of every de-duplication key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
import structlog
from aiohttp import web
from pydantic import AfterValidator, ValidationInfo
from redis.exceptions import RedisError

from bot.appkeys import DEPS
from bot.deps import Deps
from bot.httpbody import BodyTooLarge, read_body
from config.settings import Settings

__all__ = [
    "IntakeKind",
    "closed_intake_sources",
    "intake_handler",
    "parse_secrets",
    "parse_endpoints",
    "signature_for",
    "signature_v2_for",
    "signed_headers",
    "Moment",
    "plausible",
]

log = structlog.get_logger(__name__)

MAX_BODY = 2 * 1024 * 1024
MAX_ITEMS = 500
WINDOW_S = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: "²".isdigit() is True, int("²") is not
_HEX64 = re.compile(r"[0-9a-f]{64}")


# Older than any brand's history, and no later than a day ahead (clocks drift; time zones).
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_AHEAD = timedelta(days=1)


def plausible(moment: datetime, info: ValidationInfo) -> datetime:
    """A moment a sender reports (paid, sent, occurred): with a UTC offset, from 2000 until a day
    after ``now`` (the app's clock, given as validation context; the wall clock without one)."""
    if moment.tzinfo is None:
        raise ValueError("needs a UTC offset (e.g. 2026-11-11T20:00:00+08:00)")
    context = info.context if isinstance(info.context, dict) else {}
    now = context.get("now") or datetime.now(UTC)
    if not _EARLIEST <= moment <= now + _AHEAD:
        raise ValueError(f"{moment.isoformat()} is not a plausible date (2000 until tomorrow)")
    return moment


# For the intake models (pydantic): a datetime checked by :func:`plausible`.
Moment = Annotated[datetime, AfterValidator(plausible)]


def parse_secrets(spec: str) -> dict[str, bytes]:
    secrets: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, secret = part.partition("=")
        if name and secret:
            secrets[name.strip()] = secret.strip().encode()
    return secrets


def parse_endpoints(spec: str) -> dict[str, frozenset[str]]:
    """``SCRM_INTAKE_ENDPOINTS`` ("shop=/signals /intake/orders,pos=/intake/orders"): a source posts only to
    the paths listed for it (none listed: nowhere)."""
    allowed: dict[str, frozenset[str]] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, paths = part.partition("=")
        allowed[name.strip()] = frozenset(paths.split())
    return allowed


def closed_intake_sources(settings: Settings) -> list[str]:
    """Sources with a secret but no path in ``SCRM_INTAKE_ENDPOINTS``: every post of theirs is a 403."""
    allowed = parse_endpoints(settings.scrm_intake_endpoints)
    return [source for source in parse_secrets(settings.scrm_signal_secrets.get_secret_value())
            if not allowed.get(source)]


def signature_for(secret: bytes, timestamp: str, body: bytes) -> str:
    """The first (unversioned) scheme: it does not cover the method and path."""
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_v2_for(secret: bytes, method: str, path: str, timestamp: str, body: bytes) -> str:
    signed = f"v2\n{method.upper()}\n{path}\n{timestamp}\n".encode() + body
    return "v2=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()


def signed_headers(
    source: str, secret: bytes, body: bytes, timestamp: float, *, method: str = "POST", path: str = ""
) -> dict[str, str]:
    """The headers a sender (shop, POS, the demo, tests) signs a JSON ``body`` with: version 2 when
    the ``path`` it posts to is given, the first scheme otherwise."""
    ts = str(int(timestamp))
    signature = signature_v2_for(secret, method, path, ts, body) if path else signature_for(secret, ts, body)
    return {"X-Source": source, "X-Timestamp": ts, "X-Signature": signature, "Content-Type": "application/json"}


class ItemRejected(ValueError):
    """This item is invalid; the message is the reason returned to the sender."""


@dataclass(frozen=True, slots=True)
class IntakeKind:
    """One intake endpoint: the JSON list it reads and how an item becomes a queued event."""

    source: str  # the stream source and handler kind, e.g. "order"
    list_field: str  # e.g. "orders"
    # (item, now) → (dedup key, normalised body); raises ItemRejected
    validate: Callable[[Mapping[str, Any], datetime], tuple[str, dict[str, Any]]]


def _refused(status: int, reason: str, request: web.Request) -> web.Response:
    log.warning("intake_rejected", status=status, reason=reason, peer=request.remote, path=request.path)
    return web.json_response({"error": reason}, status=status)


def _authenticate(request: web.Request, deps: Deps, body: bytes) -> str | web.Response:
    """The sender's name, or the answer for a request that does not authenticate (400 / 401 / 403)."""
    settings = deps.settings
    secrets = parse_secrets(settings.scrm_signal_secrets.get_secret_value())
    source = request.headers.get("X-Source", "")
    timestamp = request.headers.get("X-Timestamp", "")
    signature = request.headers.get("X-Signature", "").strip().lower()
    if not _TIMESTAMP.fullmatch(timestamp):
        return _refused(400, "X-Timestamp must be unix seconds (ASCII digits)", request)
    secret = secrets.get(source)
    if secret is None or abs(deps.clock.timestamp() - int(timestamp)) > WINDOW_S:
        return _refused(401, "bad or stale signature, or unknown source", request)
    if signature.startswith("v2="):
        expected = signature_v2_for(secret, request.method, request.rel_url.raw_path, timestamp, body)
    elif settings.scrm_intake_legacy_signatures:
        expected = signature_for(secret, timestamp, body)
    else:
        return _refused(401, "only v2 signatures are accepted (X-Signature: v2=…)", request)
    if not _HEX64.fullmatch(signature.removeprefix("v2=")):
        return _refused(401, "X-Signature must be hex HMAC-SHA256", request)
    # ASCII only from here (checked above): compare_digest refuses non-ASCII str.
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return _refused(401, "bad or stale signature, or unknown source", request)
    if request.path not in parse_endpoints(settings.scrm_intake_endpoints).get(source, frozenset()):
        return _refused(403, f"source {source!r} may not post to {request.path}: the operator lists the paths of "
                        f"each source in SCRM_INTAKE_ENDPOINTS (e.g. {source}={request.path})", request)
    return source


def _validate_items(
    kind: IntakeKind, items: list[Any], sender: str, now: datetime
) -> tuple[list[dict[str, Any]], list[tuple[int, str, str]]]:
    """A result per item (accepted or rejected with its reason), and what to queue for the accepted."""
    results: list[dict[str, Any]] = []
    queued: list[tuple[int, str, str]] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ItemRejected("not an object")
            key, normalised = kind.validate(item, now)
        except ItemRejected as err:
            results.append({"index": index, "status": "rejected", "reason": str(err)})
            continue
        except Exception:  # a validator's bug rejects one item, not the batch (logged)
            log.exception("intake_item_failed", source=kind.source, index=index)
            results.append({"index": index, "status": "rejected", "reason": "invalid item"})
            continue
        normalised["_sender"] = sender
        results.append({"index": index, "status": "accepted", "key": key})
        # Keyed by sender: a POS order and a shop order with the same id are two orders.
        queued.append((index, f"{sender}:{key}", orjson.dumps(normalised).decode()))
    return results, queued


def intake_handler(kind: IntakeKind) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        deps = request.app[DEPS]
        try:
            body = await read_body(request, MAX_BODY)
        except BodyTooLarge:
            return web.json_response({"error": "body too large"}, status=413)
        sender = _authenticate(request, deps, body)
        if isinstance(sender, web.Response):
            return sender
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return web.json_response({"error": "malformed JSON"}, status=400)
        items = document.get(kind.list_field) if isinstance(document, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
            return web.json_response({"error": f'expected {{"{kind.list_field}": [1..{MAX_ITEMS} items]}}'}, status=400)
        results, queued = _validate_items(kind, items, sender, deps.clock.now())
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
