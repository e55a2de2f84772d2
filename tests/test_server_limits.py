"""Bounded requests, as a client on a raw socket sees them: slow bodies and headers are cut off,
bodies over a route's cap are refused while they arrive, connections are limited, /metrics is
private, and a bad limit setting stops the start. Good requests around them still go through."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest

from bot.app import create_app
from bot.cli import _parser
from bot.crypto import CallbackCrypto
from bot.serving import serving
from config.settings import Settings
from tests.conftest import AES_KEY, CORP_ID, TOKEN
from tests.test_cli import GOOD_ENV, run_scrm

CRYPTO = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)
BODY_TIMEOUT_S = 0.5


@asynccontextmanager
async def limited_server(settings: Settings) -> AsyncIterator[tuple[str, int]]:
    """The app served as ``scrm serve`` serves it (bot.serving), on a loopback port."""
    async with serving(create_app(settings, role="web"), settings, "127.0.0.1", 0) as site:
        yield "127.0.0.1", site.port


@pytest.fixture
async def server(make_settings: Callable[..., Settings]) -> AsyncIterator[tuple[str, int]]:
    async with limited_server(make_settings(scrm_body_timeout_s=BODY_TIMEOUT_S, scrm_max_connections=4)) as address:
        yield address


def _callback_target() -> str:
    ts = str(int(time.time()))
    return f"/wecom/callback?msg_signature={'0' * 40}&timestamp={ts}&nonce=1"


async def _status_line(reader: asyncio.StreamReader, within: float = 5.0) -> bytes:
    return await asyncio.wait_for(reader.readline(), within)


async def _closed(reader: asyncio.StreamReader, within: float = 5.0) -> bool:
    """True once the server has closed the connection (EOF after whatever it answered)."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def _good_callback_goes_through(address: tuple[str, int]) -> None:
    inner = (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[edit_external_contact]]></ChangeType>"
        "<UserID><![CDATA[guide01]]></UserID><ExternalUserID><![CDATA[wmOK]]></ExternalUserID></xml>"
    )
    params, body = CRYPTO.encrypted_callback(inner, str(int(time.time())))
    async with aiohttp.ClientSession() as http, http.post(
        f"http://{address[0]}:{address[1]}/wecom/callback", params=params, data=body
    ) as resp:
        assert (resp.status, await resp.text()) == (200, "success")


async def test_a_declared_body_that_never_comes_is_answered_408_at_the_deadline(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    started = time.monotonic()
    writer.write(
        f"POST {_callback_target()} HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n".encode() + b"<xml>"
    )
    status = await _status_line(reader)
    waited = time.monotonic() - started
    assert status.startswith(b"HTTP/1.1 408"), status
    assert BODY_TIMEOUT_S * 0.8 <= waited < BODY_TIMEOUT_S + 4, waited
    assert await _closed(reader), "the connection is not held after the 408"
    writer.close()
    await _good_callback_goes_through(server)


async def test_a_chunked_body_trickling_in_is_cut_off_at_the_deadline(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    started = time.monotonic()
    writer.write(f"POST {_callback_target()} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())

    async def trickle() -> None:
        # One small chunk well inside any per-read timeout, forever: only a whole-body deadline ends it.
        for _ in range(100):
            writer.write(b"1\r\n \r\n")
            await writer.drain()
            await asyncio.sleep(BODY_TIMEOUT_S / 5)

    sender = asyncio.create_task(trickle())
    try:
        status = await _status_line(reader)
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
    assert status.startswith(b"HTTP/1.1 408"), status
    assert time.monotonic() - started < BODY_TIMEOUT_S + 4
    writer.close()


@pytest.mark.parametrize(
    ("target", "cap"),
    [(None, 64 * 1024), ("/signals", 2 * 1024 * 1024)],
    ids=["callback 64 KiB", "signals 2 MiB"],
)
async def test_a_chunked_body_over_the_route_cap_is_refused_while_it_arrives(
    server: tuple[str, int], target: str | None, cap: int
) -> None:
    """The sender never finishes: the 413 must come from counting what arrived, not from the end."""
    reader, writer = await asyncio.open_connection(*server)
    writer.write(
        f"POST {target or _callback_target()} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
    )
    chunk = b"A" * 16384
    sent = 0
    while sent <= cap + len(chunk):
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
        sent += len(chunk)
    status = await _status_line(reader)
    assert status.startswith(b"HTTP/1.1 413"), status
    writer.close()
    await _good_callback_goes_through(server)


async def test_a_crawling_header_does_not_hold_a_connection(server: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*server)
    writer.write(b"POST /wecom/callback HTTP/1.1\r\nHost: x\r\n")  # and nothing more
    assert await _closed(reader, within=BODY_TIMEOUT_S + 4)
    writer.close()


async def test_connections_over_the_limit_are_refused_and_served_again_when_one_closes(
    server: tuple[str, int],
) -> None:
    held = [await asyncio.open_connection(*server) for _ in range(4)]
    await asyncio.sleep(0.05)
    reader, writer = await asyncio.open_connection(*server)
    assert (await _status_line(reader)).startswith(b"HTTP/1.1 503")
    writer.close()
    for _, w in held:
        w.close()
        await w.wait_closed()
    await asyncio.sleep(0.1)
    await _good_callback_goes_through(server)


async def test_metrics_answer_only_the_bearer_of_the_token(make_settings: Callable[..., Settings]) -> None:
    async with aiohttp.ClientSession() as http:
        off = make_settings(scrm_metrics_token="")
        async with limited_server(off) as (host, port), http.get(f"http://{host}:{port}/metrics") as resp:
            assert resp.status == 404, "no token configured: metrics are off"
        async with limited_server(make_settings(scrm_metrics_token="m3trics-t0ken")) as (host, port):
            url = f"http://{host}:{port}/metrics"
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "m3trics-t0ken"}):
                async with http.get(url, headers=headers) as resp:
                    assert resp.status == 401, headers
            async with http.get(url, headers={"Authorization": "Bearer m3trics-t0ken"}) as resp:
                assert resp.status == 200
                assert "scrm_callbacks_total" in await resp.text()


async def test_healthz_answers_anyone_ok_and_only_the_metrics_bearer_the_details(
    make_settings: Callable[..., Settings],
) -> None:
    """A load balancer gets 200 "ok"; queue depth and dead letters are for the bearer of SCRM_METRICS_TOKEN."""
    async with aiohttp.ClientSession() as http, limited_server(make_settings(scrm_metrics_token="m3trics-t0ken")) as (
        host, port
    ):
        url = f"http://{host}:{port}/healthz"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer é"}):
            async with http.get(url, headers=headers) as resp:
                assert resp.status == 200, headers
                body = await resp.text()
                assert body == "ok" and "dead" not in body and "stream" not in body
        async with http.get(url, headers={"Authorization": "Bearer m3trics-t0ken"}) as resp:
            assert resp.status == 200
            details = await resp.json()
            assert details["ok"] is True and set(details["queue"]) >= {"stream", "dead", "retry"}


async def test_healthz_is_a_bare_503_when_redis_is_down(make_settings: Callable[..., Settings]) -> None:
    # Without a spool (with one, the web keeps taking callbacks: tests/test_spool.py).
    settings = make_settings(redis_url="redis://127.0.0.1:9/0", scrm_metrics_token="m3trics-t0ken", scrm_spool_dir="")
    async with aiohttp.ClientSession() as http, limited_server(settings) as (host, port):
        async with http.get(f"http://{host}:{port}/healthz") as resp:
            assert resp.status == 503 and await resp.text() == "unavailable"
        async with http.get(f"http://{host}:{port}/healthz", headers={"Authorization": "Bearer m3trics-t0ken"}) as resp:
            assert resp.status == 503 and (await resp.json())["redis"]


def test_serve_listens_on_loopback_unless_told() -> None:
    assert _parser().parse_args(["serve"]).host == "127.0.0.1"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SCRM_CALLBACK_MAX_AGE_S": "0"}, "SCRM_CALLBACK_MAX_AGE_S Input should be greater than 0"),
        ({"SCRM_CALLBACK_MAX_AGE_S": "90000"}, "SCRM_CALLBACK_MAX_AGE_S (90000) must be shorter than SCRM_DEDUP_TTL_S"),
        ({"SCRM_DEDUP_TTL_S": "600"}, "SCRM_CALLBACK_MAX_AGE_S (3600) must be shorter than SCRM_DEDUP_TTL_S (600)"),
        ({"SCRM_BODY_TIMEOUT_S": "0"}, "SCRM_BODY_TIMEOUT_S Input should be greater than 0"),
    ],
)
def test_a_replay_window_that_is_off_or_outlives_dedup_stops_the_start(env: dict[str, str], named: str) -> None:
    result = run_scrm("serve", env=GOOD_ENV | env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr
