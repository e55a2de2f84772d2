"""Signed intake under hostile input: every bad item is named and the rest goes through, malformed
headers are a 400 or 401 (never a 500), signatures cover the endpoint, and senders do not collide."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import pytest

from bot.app import create_app
from bot.intake import closed_intake_sources, signed_headers
from config.settings import Settings
from customers.models import Customer, Order, Signal
from tests.conftest import Stack, serve_app
from tests.support.signing import post_signed


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).astimezone(timezone(timedelta(hours=8))).isoformat()


def order(order_id: str, **extra: Any) -> dict[str, Any]:
    return {"order_id": order_id, "external_userid": "wmHOSTILE1", "amount": "100.00", "paid_at": days_ago(3)} | extra


async def raw_post(url: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """A request with header bytes no well-behaved client would send (aiohttp's client refuses them)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 + head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


@pytest.mark.parametrize(
    ("header", "value"),
    [(b"X-Timestamp", "²".encode()), (b"X-Timestamp", b"-1"), (b"X-Timestamp", b"9" * 40),
     (b"X-Signature", "é".encode() * 64), (b"X-Signature", b"v2=" + "é".encode() * 32), (b"X-Source", "店".encode())],
    ids=["superscript-timestamp", "negative-timestamp", "huge-timestamp", "non-ascii-signature", "non-ascii-v2",
         "non-ascii-source"],
)
async def test_malformed_headers_are_400_or_401_never_500(stack: Stack, header: bytes, value: bytes) -> None:
    body = orjson.dumps({"orders": [order("H1")]})
    signed = signed_headers("shop", b"test-shop-secret", body, time.time(), path="/intake/orders")
    headers = [(k.encode(), v.encode()) for k, v in signed.items() if k.encode() != header] + [(header, value)]
    status = await raw_post(stack.app.url, "/intake/orders", headers, body)
    assert status in (400, 401)
    assert (await stack.deps.queue.depth())["stream"] == 0


async def test_every_bad_order_is_named_and_the_rest_is_kept(stack: Stack) -> None:
    stack.state.add_member("guide_sh01_a", "王小美")
    await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmHOSTILE1", state="store_sh01"))
    await stack.settle()
    batch = {"orders": [
        order("GOOD1"),
        order("BAD-ITEMS", items=5),
        order("BAD-NAN", amount="NaN"),
        order("BAD-QTY", items=[{"product_id": "P1", "quantity": "²"}]),
        order("BAD-INF", amount="Infinity"),
        order("BAD-DATE", paid_at="1970-01-01T00:00:00+00:00"),
        order("BAD-DIGITS", amount="1e30"),
    ]}
    status, answer = await post_signed(stack, "/intake/orders", batch)
    assert status == 202
    assert [r["status"] for r in answer["results"]] == ["accepted"] + ["rejected"] * 6
    reasons = [r["reason"] for r in answer["results"][1:]]
    assert reasons[0].startswith("items:") and "list" in reasons[0]
    assert reasons[1].startswith("amount:") and "finite" in reasons[1]
    assert reasons[2].startswith("items.0.quantity:")
    assert reasons[3].startswith("amount:") and "finite" in reasons[3]
    assert reasons[4].startswith("paid_at:") and "plausible" in reasons[4]
    assert reasons[5].startswith("amount:") and "digits" in reasons[5]
    await stack.settle()
    assert await stack.deps.redis.xlen(stack.deps.queue.keys.dead) == 0  # nothing dead-lettered
    # The sender fixes the Infinity order and sends it again: it is a new order, not a "duplicate".
    status, again = await post_signed(stack, "/intake/orders", {"orders": [order("BAD-INF", amount="120")]})
    assert (status, again["results"][0]["status"]) == (202, "accepted")
    await stack.settle()
    assert sorted(await Order.all().values_list("order_id", flat=True)) == ["BAD-INF", "GOOD1"]
    assert (await Customer.get(external_userid="wmHOSTILE1")).order_count == 2


async def test_chat_messages_are_checked_item_by_item(stack: Stack) -> None:
    good = {"msg_id": "m1", "from": "wmX", "external_userid": "wmX", "content": "你好", "sent_at": days_ago(1)}
    batch = {"messages": [good, good | {"msg_id": "m2", "content": ["not", "text"]},
                          good | {"msg_id": "m3", "sent_at": "2026-13-01"}, good | {"msg_id": "x" * 200}]}
    status, answer = await post_signed(stack, "/intake/chat-archive", batch)
    assert status == 202 and [r["status"] for r in answer["results"]] == ["accepted"] + ["rejected"] * 3
    assert [r["reason"].split(":")[0] for r in answer["results"][1:]] == ["content", "sent_at", "msg_id"]


async def test_a_pos_order_and_a_shop_order_with_the_same_id_are_two_orders(stack: Stack) -> None:
    stack.state.add_member("guide_sh01_a", "王小美")
    await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmHOSTILE1", state="store_sh01"))
    await stack.settle()
    _, shop = await post_signed(stack, "/intake/orders", {"orders": [order("1001", amount="100")]})
    _, pos = await post_signed(stack, "/intake/orders", {"orders": [order("1001", amount="30")]},
                               source="pos", secret=b"test-pos-secret")
    _, repeat = await post_signed(stack, "/intake/orders", {"orders": [order("1001", amount="30")]},
                                  source="pos", secret=b"test-pos-secret")
    assert [a["results"][0]["status"] for a in (shop, pos, repeat)] == ["accepted", "accepted", "duplicate"]
    await stack.settle()
    customer = await Customer.get(external_userid="wmHOSTILE1")
    assert customer.order_count == 2 and float(customer.total_spent) == 130.0
    assert sorted(await Order.all().values_list("sender", flat=True)) == ["pos", "shop"]


@pytest.fixture
async def strict(make_settings: Callable[..., Settings], sim: Any) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """The app with only v2 signatures and each source held to its paths."""
    settings = make_settings(wecom_api_base=sim.url, scrm_intake_legacy_signatures=False,
                             scrm_intake_endpoints="shop=/signals /intake/orders,pos=/intake/orders")
    async with serve_app(create_app(settings)) as app, aiohttp.ClientSession() as http:
        yield app.url, http


async def post(http: aiohttp.ClientSession, url: str, path: str, headers: dict[str, str], body: bytes) -> int:
    async with http.post(url + path, data=body, headers=headers) as resp:
        return resp.status


async def test_v2_signatures_cover_the_path_and_sources_keep_to_their_endpoints(
    strict: tuple[str, aiohttp.ClientSession],
) -> None:
    url, http = strict
    body = orjson.dumps({"orders": [order("V2-1")]})
    v2 = signed_headers("shop", b"test-shop-secret", body, time.time(), path="/intake/orders")
    legacy = signed_headers("shop", b"test-shop-secret", body, time.time())
    assert v2["X-Signature"].startswith("v2=")
    assert await post(http, url, "/intake/orders", v2, body) == 202
    assert await post(http, url, "/intake/chat-archive", v2, body) == 401  # signed for another endpoint
    assert await post(http, url, "/intake/orders", legacy, body) == 401  # the old scheme is turned off
    pos = signed_headers("pos", b"test-pos-secret", body, time.time(), path="/signals")
    assert await post(http, url, "/signals", pos, body) == 403  # pos may post orders only


async def test_the_first_signature_scheme_is_refused_unless_turned_back_on(
    make_settings: Callable[..., Settings], sim: Any
) -> None:
    """Unsigned-path signatures are off by default (a body signed for one endpoint would be good for all)."""
    body = orjson.dumps({"orders": [order("OLD-1")]})
    for legacy, status in ((None, 401), (True, 202)):
        overrides: dict[str, Any] = {} if legacy is None else {"scrm_intake_legacy_signatures": legacy}
        settings = make_settings(wecom_api_base=sim.url, scrm_intake_endpoints="shop=/intake/orders", **overrides)
        async with serve_app(create_app(settings)) as app, aiohttp.ClientSession() as http:
            headers = signed_headers("shop", b"test-shop-secret", body, time.time())
            async with http.post(app.url + "/intake/orders", data=body, headers=headers) as resp:
                assert resp.status == status, await resp.text()
                if status == 401:
                    assert "v2" in (await resp.json())["error"]


async def test_intake_endpoints_are_closed_until_listed_for_a_source(
    make_settings: Callable[..., Settings], sim: Any
) -> None:
    """A source with a secret but no paths in SCRM_INTAKE_ENDPOINTS posts nowhere; the answer names the setting."""
    body = orjson.dumps({"orders": [order("CLOSED-1")]})
    headers = signed_headers("shop", b"test-shop-secret", body, time.time(), path="/intake/orders")
    settings = make_settings(wecom_api_base=sim.url, scrm_intake_endpoints="")
    assert closed_intake_sources(settings) == ["shop", "pos"]  # logged at start: intake_source_has_no_paths
    assert closed_intake_sources(make_settings(scrm_intake_endpoints="shop=/signals")) == ["pos"]
    async with serve_app(create_app(settings)) as app, aiohttp.ClientSession() as http:
        async with http.post(app.url + "/intake/orders", data=body, headers=headers) as resp:
            assert resp.status == 403
            assert "SCRM_INTAKE_ENDPOINTS" in (await resp.json())["error"]
        assert (await app.deps.queue.depth())["stream"] == 0


async def test_two_systems_may_use_the_same_signal_event_id(stack: Stack) -> None:
    now = datetime.now(UTC).isoformat()
    browse = {"event_id": "ev-1", "type": "browse", "occurred_at": now, "external_userid": "wmSIG1",
              "product_id": "P1"}
    for source, secret in (("shop", b"test-shop-secret"), ("pos", b"test-pos-secret")):
        status, answer = await post_signed(stack, "/signals", {"signals": [browse]}, source=source, secret=secret)
        assert (status, answer["accepted"]) == (202, 1)
    await stack.settle()
    assert sorted(await Signal.filter(event_id="ev-1").values_list("source", flat=True)) == ["pos", "shop"]


async def test_an_order_stored_before_senders_counted_is_not_taken_twice(stack: Stack) -> None:
    stack.state.add_member("guide_sh01_a", "王小美")
    await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmHOSTILE1", state="store_sh01"))
    await stack.settle()
    customer = await Customer.get(external_userid="wmHOSTILE1")
    await Order.create(order_id="LEGACY-1", sender="", source="intake", customer=customer, amount=100,
                       paid_at=datetime.now(UTC) - timedelta(days=3), external_userid="wmHOSTILE1")
    _, answer = await post_signed(stack, "/intake/orders", {"orders": [order("LEGACY-1")]})
    assert answer["accepted"] == 1  # new to the queue (its key now names the sender) …
    await stack.settle()
    assert await Order.filter(order_id="LEGACY-1").count() == 1  # … and still one order


@pytest.mark.parametrize(
    ("field", "value"),
    [("occurred_at", "0001-01-01T00:00:00+00:00"), ("occurred_at", "9999-01-01T00:00:00+00:00"),
     ("expires_at", "9999-01-01T00:00:00+00:00"), ("duration_s", "NaN"), ("price", "Infinity")],
)
async def test_a_signal_with_an_impossible_value_is_named_and_its_batch_kept(
    stack: Stack, field: str, value: str
) -> None:
    now = datetime.now(UTC).isoformat()
    good = {"event_id": "ok-1", "type": "browse", "occurred_at": now, "external_userid": "wmSIG2", "product_id": "P1"}
    bad = good | {"event_id": "bad-1", "type": "coupon_claimed", "coupon_id": "C1", field: value}
    status, answer = await post_signed(stack, "/signals", {"signals": [good, bad]})
    assert status == 202 and [r["status"] for r in answer["results"]] == ["accepted", "rejected"]
    assert field in answer["results"][1]["reason"]
    await stack.settle()
    assert await stack.deps.redis.xlen(stack.deps.queue.keys.dead) == 0
