"""The callback endpoint, over real HTTP, against real Redis: what WeCom and an attacker would see."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from bot.app import create_app
from bot.crypto import CallbackCrypto
from config.settings import Settings
from tests.conftest import AES_KEY, BACKEND, CORP_ID, TOKEN, RunningApp, serve_app
from tests.support.callbacks import CRYPTO, add_contact_xml, post_callback, signed


async def stream_length(app: RunningApp) -> int:
    return int(await app.deps.redis.xlen(app.deps.queue.keys.stream))


async def test_url_verification_returns_plain_echostr(web_app: RunningApp, http: aiohttp.ClientSession) -> None:
    echostr = CRYPTO.encrypt("1288432023552776189")
    ts, nonce = str(int(time.time())), "47744683"
    params = {"msg_signature": CRYPTO.sign(ts, nonce, echostr), "timestamp": ts, "nonce": nonce, "echostr": echostr}
    async with http.get(web_app.callback_url, params=params) as resp:
        assert resp.status == 200
        assert await resp.read() == b"1288432023552776189"


async def test_good_callback_is_acknowledged_and_queued(web_app: RunningApp, http: aiohttp.ClientSession) -> None:
    assert await post_callback(http, web_app, *signed(add_contact_xml())) == (200, "success")
    entries = await web_app.deps.redis.xrange(web_app.deps.queue.keys.stream)
    assert len(entries) == 1
    fields = entries[0][1]
    assert fields["source"] == "wecom" and '"ExternalUserID":"wmEXT001"' in fields["body"]


async def test_same_callback_three_times_is_stored_once(web_app: RunningApp, http: aiohttp.ClientSession) -> None:
    inner = add_contact_xml()
    params, body = signed(inner)
    for _ in range(3):
        assert await post_callback(http, web_app, params, body) == (200, "success")
    # A re-send may also be encrypted and signed anew (new nonce, new IV): same inner event, same key.
    assert await post_callback(http, web_app, *signed(inner)) == (200, "success")
    assert await stream_length(web_app) == 1


async def test_distinct_events_in_the_same_second_are_both_kept(
    web_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    now = int(time.time())
    await post_callback(http, web_app, *signed(add_contact_xml("wmA", now)))
    await post_callback(http, web_app, *signed(add_contact_xml("wmB", now)))
    assert await stream_length(web_app) == 2


def _entity_bomb() -> bytes:
    entities = '<!ENTITY a0 "boom">' + "".join(
        f'<!ENTITY a{i} "&a{i - 1};&a{i - 1};&a{i - 1};&a{i - 1};">' for i in range(1, 10)
    )
    return f'<?xml version="1.0"?><!DOCTYPE xml [{entities}]><xml><Encrypt>&a9;</Encrypt></xml>'.encode()


def _signed_outer(outer: bytes) -> dict[str, str]:
    ts, nonce = str(int(time.time())), "1"
    return {"msg_signature": CRYPTO.sign(ts, nonce, ""), "timestamp": ts, "nonce": nonce}


BAD_REQUESTS: dict[str, Callable[[], tuple[dict[str, str], bytes, int]]] = {
    "forged signature": lambda: (
        signed(add_contact_xml())[0] | {"msg_signature": "0" * 40},
        signed(add_contact_xml())[1],
        403,
    ),
    "signed by another token": lambda: (
        *signed(add_contact_xml(), CallbackCrypto("OtherToken123", AES_KEY, CORP_ID)),
        403,
    ),
    "encrypted for another corp": lambda: (
        *signed(add_contact_xml(), CallbackCrypto(TOKEN, AES_KEY, "wwsomeoneelse01")),
        403,
    ),
    "stale timestamp": lambda: (*CRYPTO.encrypted_callback(add_contact_xml(), str(int(time.time()) - 7200)), 403),
    "missing query": lambda: ({}, signed(add_contact_xml())[1], 400),
    "malformed outer XML": lambda: (signed(add_contact_xml())[0], b"<xml><Encrypt>abc</Encr", 400),
    "no Encrypt element": lambda: (signed(add_contact_xml())[0], b"<xml><Foo>1</Foo></xml>", 400),
    "inner XML with a DTD": lambda: (*signed('<!DOCTYPE x [<!ENTITY a "b">]><xml><Event>&a;</Event></xml>'), 400),
    "entity bomb": lambda: (_signed_outer(b""), _entity_bomb(), 400),
    "malformed inner XML": lambda: (*signed("<xml><Event>oops</xml>"), 400),
    "oversized body": lambda: (signed(add_contact_xml())[0], b"<xml>" + b"A" * (65 * 1024) + b"</xml>", 413),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
async def test_bad_input_is_rejected_and_server_keeps_serving(
    case: str, web_app: RunningApp, http: aiohttp.ClientSession
) -> None:
    params, body, expected = BAD_REQUESTS[case]()
    status, text = await post_callback(http, web_app, params, body)
    assert status == expected, text
    assert text and text != "success"
    assert await stream_length(web_app) == 0, "nothing stored for a rejected callback"
    # Good input right after still goes through.
    assert await post_callback(http, web_app, *signed(add_contact_xml())) == (200, "success")
    assert await stream_length(web_app) == 1


async def test_concurrent_burst_of_good_and_bad(web_app: RunningApp, http: aiohttp.ClientSession) -> None:
    good = [signed(add_contact_xml(f"wm{i:03d}")) for i in range(40)]
    bad = [(p | {"msg_signature": "f" * 40}, b) for p, b in good[:20]]
    results = await asyncio.gather(*(post_callback(http, web_app, p, b) for p, b in good + bad))
    assert [s for s, _ in results[:40]] == [200] * 40
    assert [s for s, _ in results[40:]] == [403] * 20
    assert await stream_length(web_app) == 40


def _unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _start_redis(port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return proc
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("redis-server did not start")


@pytest.mark.skipif(BACKEND == "embedded", reason="the embedded backend has no Redis server to stop")
async def test_redis_down_gives_503_and_recovers(make_settings: Callable[..., Settings], http: Any) -> None:
    port = _unused_port()
    proc = await _start_redis(port)
    try:
        settings = make_settings(redis_url=f"redis://127.0.0.1:{port}/0", scrm_spool_dir="")  # no spool
        async with serve_app(create_app(settings, role="web")) as app:
            assert await post_callback(http, app, *signed(add_contact_xml("wm1"))) == (200, "success")
            proc.kill()
            await proc.wait()
            status, _ = await post_callback(http, app, *signed(add_contact_xml("wm2")))
            assert status == 503, "WeCom must retry: not acknowledged"
            proc = await _start_redis(port)
            assert await post_callback(http, app, *signed(add_contact_xml("wm2"))) == (200, "success")
            assert await stream_length(app) == 1  # the new server is empty: wm2 alone, stored on retry
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.skipif(BACKEND == "embedded", reason="the embedded Redis cannot be paused")
async def test_redis_that_stops_answering_gives_503_in_time_and_no_double_store(
    make_settings: Callable[..., Settings], http: Any
) -> None:
    """A Redis that accepts the append but never answers (paused writes, a black hole) must not
    hold WeCom's request past its 5 s: the callback is answered 503 at the enqueue deadline, and
    WeCom's retry after Redis recovers is stored once."""
    port = _unused_port()
    proc = await _start_redis(port)
    redis_url = f"redis://127.0.0.1:{port}/0"
    try:
        settings = make_settings(redis_url=redis_url, scrm_enqueue_timeout_s=0.5, scrm_spool_dir="")  # no spool
        async with serve_app(create_app(settings, role="web")) as app:
            assert await post_callback(http, app, *signed(add_contact_xml("wm1"))) == (200, "success")
            admin = aiohttp_redis(redis_url)
            await admin.execute_command("CLIENT", "PAUSE", "4000", "WRITE")
            retried = signed(add_contact_xml("wm2"))
            started = time.monotonic()
            status, _ = await post_callback(http, app, *retried)
            waited = time.monotonic() - started
            assert status == 503, "not acknowledged, so WeCom retries"
            assert 0.5 <= waited < 1.5, f"answered after {waited:.2f} s: the deadline is 0.5 s"
            await admin.execute_command("CLIENT", "UNPAUSE")
            await admin.aclose()
            assert await post_callback(http, app, *retried) == (200, "success")
            assert await post_callback(http, app, *signed(add_contact_xml("wm3"))) == (200, "success")
            # wm1, wm2 once (whether or not the cut-off append ran after the pause), wm3.
            assert await stream_length(app) == 3
    finally:
        proc.kill()
        await proc.wait()


def aiohttp_redis(url: str) -> Any:
    from redis.asyncio import Redis

    return Redis.from_url(url)
