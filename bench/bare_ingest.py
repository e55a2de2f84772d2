"""The lower bound for ``/wecom/callback`` on this machine: verify, decrypt, XADD, answer. Nothing else.

No XML parser, no de-duplication, no metrics, no logging: a plain find for ``<Encrypt>``, the
signature check and AES decryption of ``bot.crypto.CallbackCrypto``, and one ``XADD`` with
redis.asyncio (hiredis). ``bench/ingest.py`` runs it next to the real app to get the ratio.

    .venv/bin/python -m bench.bare_ingest --port 8181 --redis-url redis://127.0.0.1:6379/0 --stream bench:bare
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis

from bot.crypto import CallbackCrypto, CryptoError

REDIS: web.AppKey[Redis] = web.AppKey("redis", Redis)
CRYPTO: web.AppKey[CallbackCrypto] = web.AppKey("crypto", CallbackCrypto)
STREAM: web.AppKey[str] = web.AppKey("stream", str)

_OPEN = b"<Encrypt><![CDATA["
_CLOSE = b"]]></Encrypt>"


def extract_encrypt(body: bytes) -> str | None:
    start = body.find(_OPEN)
    if start < 0:
        return None
    start += len(_OPEN)
    end = body.find(_CLOSE, start)
    return body[start:end].decode("ascii", "replace") if end > start else None


async def callback(request: web.Request) -> web.Response:
    query = request.query
    body = await request.read()
    encrypt = extract_encrypt(body)
    if encrypt is None:
        return web.Response(status=400, text="no Encrypt")
    try:
        plaintext = request.app[CRYPTO].verify_and_decrypt(
            query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", ""), encrypt
        )
    except CryptoError:
        return web.Response(status=403, text="bad callback")
    await request.app[REDIS].xadd(request.app[STREAM], {"body": plaintext})
    return web.Response(text="success")


def create_bare_app(redis_url: str, stream: str, token: str, aes_key: str, corp_id: str) -> web.Application:
    app = web.Application()
    app[CRYPTO] = CallbackCrypto(token, aes_key, corp_id)
    app[STREAM] = stream

    async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
        # redis-py's default pool refuses a 101st concurrent command (MaxConnectionsError): a lower
        # bound must not fail where a well-configured app would wait, so the pool is large.
        client = Redis.from_url(redis_url, decode_responses=True, max_connections=4096)
        await client.ping()
        app[REDIS] = client
        yield
        await client.aclose()

    app.cleanup_ctx.append(redis_ctx)
    app.router.add_post("/wecom/callback", callback)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--stream", required=True, help="the stream key to XADD to")
    args = parser.parse_args()
    app = create_bare_app(
        args.redis_url,
        args.stream,
        os.environ["WECOM_TOKEN"],
        os.environ["WECOM_AES_KEY"],
        os.environ["WECOM_CORP_ID"],
    )
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
