"""Orders and chat-archive messages from the brand's systems: signed, validated, one effect each."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from customers.models import ChatMessage, Customer, Order
from tests.conftest import Stack
from tests.support.signing import post_signed


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).astimezone(timezone(timedelta(hours=8))).isoformat()


def order(order_id: str, external_userid: str = "wmBUYER01", **extra: Any) -> dict[str, Any]:
    return {"order_id": order_id, "external_userid": external_userid, "amount": "1299.00",
            "paid_at": days_ago(10)} | extra


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"secret": b"wrong"}, 401),
        ({"source": "nobody"}, 401),
        ({"timestamp": int(time.time()) - 600}, 401),
        ({"raw": b"{not json"}, 400),
        ({"raw": b'{"orders": []}'}, 400),
    ],
    ids=["bad-hmac", "unknown-source", "stale", "malformed-json", "empty-batch"],
)
async def test_bad_requests_are_refused(stack: Stack, kwargs: dict[str, Any], status: int) -> None:
    got, body = await post_signed(stack, "/intake/orders", {"orders": [order("X1")]}, **kwargs)
    assert got == status and "error" in body
    assert (await stack.deps.queue.depth())["stream"] == 0


async def test_one_bad_order_does_not_sink_the_batch_and_repeats_are_duplicates(stack: Stack) -> None:
    stack.state.add_member("guide_sh01_a", "王小美")
    await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmBUYER01", state="store_sh01"))
    await stack.settle()
    batch = {"orders": [order("O1"), order("O2", amount="abc"), order("O3", paid_at="2026-11-11 20:00"),
                        order("O4", amount="200", paid_at=days_ago(9))]}
    status, result = await post_signed(stack, "/intake/orders", batch)
    assert status == 202
    assert [r["status"] for r in result["results"]] == ["accepted", "rejected", "rejected", "accepted"]
    assert "amount" in result["results"][1]["reason"] and "offset" in result["results"][2]["reason"]
    status, again = await post_signed(stack, "/intake/orders", batch)
    assert [r["status"] for r in again["results"]] == ["duplicate", "rejected", "rejected", "duplicate"]
    await stack.settle()
    assert await Order.all().count() == 2
    customer = await Customer.get(external_userid="wmBUYER01")
    assert customer.order_count == 2 and float(customer.total_spent) == 1499.0


async def test_order_arriving_before_the_customer_is_linked_when_they_are_added(stack: Stack) -> None:
    stack.state.add_member("guide_sh01_a", "王小美")
    status, _ = await post_signed(stack, "/intake/orders", {"orders": [order("EARLY1", "wmLATER01")]})
    assert status == 202
    await stack.settle()
    await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmLATER01", state="store_sh01"))
    await stack.settle()
    assert (await Customer.get(external_userid="wmLATER01")).order_count == 1
    tags = {stack.state.tags[t].name for t in stack.state.tag_ids_of("guide_sh01_a", "wmLATER01")}
    assert "首购" in tags


async def test_chat_archive_keyword_tags_the_customer_in_wecom(stack: Stack) -> None:
    stack.state.add_member("guide_sh01_a", "王小美")
    await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmGIFT01", state="store_sh01"))
    await stack.settle()
    message = {"msg_id": "arch-1", "from": "wmGIFT01", "external_userid": "wmGIFT01",
               "content": "想给妈妈买个礼盒", "sent_at": days_ago(1)}
    status, result = await post_signed(stack, "/intake/chat-archive", {"messages": [message, {"msg_id": "x"}]})
    assert status == 202 and result["accepted"] == 1 and result["rejected"] == 1
    await stack.settle()
    assert await ChatMessage.filter(source="archive").count() == 1
    tags = {stack.state.tags[t].name for t in stack.state.tag_ids_of("guide_sh01_a", "wmGIFT01")}
    assert "送礼需求" in tags
