"""``/wecom/callback``: verify, decrypt, de-duplicate, enqueue, answer. Nothing else.

WeCom re-sends a callback that is not answered 200 within 5 s, so no business logic runs here:
the event is appended to the durable stream (de-duplication and XADD in one Redis round trip)
and answered ``success`` only once the append succeeded. Every rejection has its own status, so
a bug never looks like a forged signature: 400 malformed, 403 forged / misrouted / stale,
408 body too slow, 413 too large, 503 storage down (WeCom will retry). When Redis cannot take it,
the callback goes to this process's spool on disk and is answered ``success`` (bot/spool.py).

Everything before the signature check (query, freshness, body, envelope) is linear in the input
and bounded in time: anyone can send it.
"""

from __future__ import annotations

import orjson
import structlog
from aiohttp import web
from redis.exceptions import RedisError

from bot.appkeys import DEPS, SPOOL
from bot.crypto import CallbackCrypto, CryptoError, InvalidCiphertext, InvalidSignature, WrongReceiveId
from bot.events import callback_dedup_key
from bot.httpbody import BodyTimeout, BodyTooLarge, read_body
from bot.xmlparse import XmlError, extract_encrypt, parse_xml

__all__ = ["verify_url", "receive_callback"]

log = structlog.get_logger(__name__)

_SIGNED_PARAMS = ("msg_signature", "timestamp", "nonce")


class Rejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _signed_query(request: web.Request, names: tuple[str, ...] = _SIGNED_PARAMS) -> dict[str, str]:
    get = request.query.get
    query = {name: get(name, "") for name in names}
    if not all(query.values()):
        missing = [name for name, value in query.items() if not value]
        raise Rejected(400, "missing query parameters: " + ", ".join(missing))
    return query


def _check_fresh(timestamp: str, max_age_s: int, now: float) -> None:
    # ASCII digits only: int() would also take "١٢", " 12 " or "1_2"; and at most 12 of them.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise Rejected(400, "timestamp is not a number")
    sent = int(timestamp)
    if abs(now - sent) > max_age_s:
        raise Rejected(403, "stale timestamp")


def _decrypt(crypto: CallbackCrypto, query: dict[str, str], encrypt: str) -> str:
    try:
        return crypto.verify_and_decrypt(query["msg_signature"], query["timestamp"], query["nonce"], encrypt)
    except InvalidSignature:
        raise Rejected(403, "bad signature") from None
    except WrongReceiveId:
        raise Rejected(403, "receive id is not this corp") from None
    except (InvalidCiphertext, CryptoError):
        raise Rejected(400, "undecryptable payload") from None


def _reject(request: web.Request, err: Rejected) -> web.Response:
    request.app[DEPS].metrics.callbacks.labels(outcome=str(err.status)).inc()
    # Log the reason and the peer only: never the body, the signature or the query string.
    log.warning("callback_rejected", status=err.status, reason=err.reason, peer=request.remote)
    return web.Response(status=err.status, text=err.reason)


async def verify_url(request: web.Request) -> web.Response:
    """GET: WeCom checks the URL when an admin saves it; answer the decrypted echostr, nothing else."""
    deps = request.app[DEPS]
    try:
        query = _signed_query(request, (*_SIGNED_PARAMS, "echostr"))
        _check_fresh(query["timestamp"], deps.settings.scrm_callback_max_age_s, deps.clock.timestamp())
        plaintext = _decrypt(deps.crypto, query, query["echostr"])
    except Rejected as err:
        return _reject(request, err)
    log.info("callback_url_verified")
    return web.Response(text=plaintext)


async def receive_callback(request: web.Request) -> web.Response:
    """POST: one event or message from WeCom."""
    deps = request.app[DEPS]
    now = deps.clock.timestamp()
    try:
        query = _signed_query(request)
        _check_fresh(query["timestamp"], deps.settings.scrm_callback_max_age_s, now)
        try:
            raw = await read_body(request, deps.settings.scrm_callback_max_bytes)
        except BodyTooLarge:
            raise Rejected(413, "body too large") from None
        except BodyTimeout:
            raise Rejected(408, "request body not received in time") from None
        try:
            encrypt = extract_encrypt(raw)
        except XmlError as err:
            raise Rejected(400, f"malformed XML: {err}") from None
        try:
            message = parse_xml(_decrypt(deps.crypto, query, encrypt))
        except XmlError as err:
            raise Rejected(400, f"malformed inner XML: {err}") from None
    except Rejected as err:
        return _reject(request, err)

    key = callback_dedup_key(message)
    body = orjson.dumps(message)
    try:
        with deps.deadlines.within(deps.settings.scrm_enqueue_timeout_s):
            stream_id = await deps.queue.append("wecom", key, body, now)
    except (RedisError, OSError, TimeoutError) as err:
        spool = request.app.get(SPOOL)
        # No spool when replicas must hold a callback (SCRM_REDIS_MIN_REPLICAS, bot/app.py): there WeCom's
        # re-send is the answer, after the Sentinels' failover.
        if spool is not None and await spool.keep("wecom", key, body, now):
            # On this process's disk: it reaches the queue when Redis answers again (bot/spool.py).
            deps.metrics.callbacks.labels(outcome="spooled").inc()
            log.warning("callback_spooled", event_key=key, error=type(err).__name__)
            return web.Response(text="success")
        deps.metrics.callbacks.labels(outcome="503").inc()
        log.error("callback_enqueue_failed", event_key=key, error=type(err).__name__)
        # Not acknowledged: WeCom re-sends, and nothing was lost.
        return web.Response(status=503, text="queue unavailable, retry later")
    (deps.metrics.accepted if stream_id else deps.metrics.duplicates).inc()
    if stream_id is None:
        log.info("callback_duplicate", event_key=key)
    return web.Response(text="success")
