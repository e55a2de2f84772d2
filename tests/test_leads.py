"""Leads as a guide would notice them: one clear card for a customer worth calling, never spam.

Signals go through the signed ``POST /signals`` into the queue; cards are read back from the
simulator's message log; time moves with the simulator's clock (the app follows it).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from bot.configfiles import ConfigError
from bot.scheduler import Tick, fire
from customers.models import Customer, Guide, Order, Relationship, Signal
from leads.config import LEADS, load_leads_config
from leads.importer import import_signals
from leads.models import Lead, LeadStatus
from leads.report import lead_figures
from leads.scoring import SignalFact, decay, score_signals
from simulator.clock import SimFollowingClock
from tests.conftest import Stack
from tests.support.facts import craft_customer
from tests.support.signing import post_signed

GUIDE = "guide_sh01_a"
_event_ids = itertools.count(1)


@pytest.fixture
def app_clock(sim: Any) -> SimFollowingClock:
    return SimFollowingClock(sim.state.clock)


def clock(stack: Stack) -> SimFollowingClock:
    moving: SimFollowingClock = stack.deps.clock
    return moving


def signal(stack: Stack, type_: str, external_userid: str, *, hours_ago: float = 0, **extra: Any) -> dict[str, Any]:
    at = stack.deps.clock.now() - timedelta(hours=hours_ago)
    body = {"event_id": f"ev-{next(_event_ids)}", "type": type_, "occurred_at": at.isoformat(),
            "external_userid": external_userid}
    if type_ in ("browse", "add_to_cart") and "product_id" not in extra:
        extra = {"product_id": "P100", "product_name": "轻羽拖鞋", "price": "199"} | extra
    return body | extra


async def send_signals(stack: Stack, *signals: dict[str, Any]) -> dict[str, Any]:
    status, body = await post_signed(stack, "/signals", {"signals": list(signals)})
    assert status == 202, body
    await stack.settle(within=10 + len(signals) / 2)  # a long batch on a shared CI host takes a while
    result: dict[str, Any] = body
    return result


def cards_to(stack: Stack, userid: str = GUIDE) -> list[Any]:
    return [m for m in stack.state.messages_to(userid) if m.msgtype == "template_card"]


def lead_cards(stack: Stack, userid: str = GUIDE) -> list[dict[str, Any]]:
    return [m.content for m in cards_to(stack, userid) if m.content["task_id"].startswith("lead-") and
            not m.content["task_id"].startswith("lead-digest")]


async def tick(stack: Stack, name: str) -> None:
    await fire(stack.deps, Tick(name, every_s=60))
    await stack.settle()


async def customer(stack: Stack, *, dormant: bool = False, guide: str = GUIDE, name_hint: str = "") -> Customer:
    now = stack.deps.clock.now()
    orders = [{"amount": 399, "days_ago": 200 if dormant else 20}]
    crafted = await craft_customer(stack.state, {"orders": orders}, now, guide=guide)
    if name_hint:
        crafted.name = name_hint
        await crafted.save()
    return crafted


def at_daytime(stack: Stack) -> None:
    """Tests that are not about quiet hours run at 10:00 Shanghai time."""
    clock(stack).advance_to_local(10, 0)


# --- intake ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"secret": b"wrong"}, 401),
        ({"timestamp": 1_000_000_000}, 401),
        ({"raw": b"{not json"}, 400),
        ({"raw": b'{"signals": {}}'}, 400),
    ],
    ids=["bad-hmac", "stale-timestamp", "malformed-json", "not-a-list"],
)
async def test_bad_requests_are_refused_and_nothing_is_queued(
    stack: Stack, kwargs: dict[str, Any], status: int
) -> None:
    doc = {"signals": [signal(stack, "browse", "wmX")]}
    got, body = await post_signed(stack, "/signals", doc, **kwargs)
    assert got == status and "error" in body
    assert (await stack.deps.queue.depth())["stream"] == 0


async def test_one_bad_signal_does_not_sink_its_batch_and_a_retry_changes_nothing(stack: Stack) -> None:
    at_daytime(stack)
    buyer = await customer(stack)
    good = [signal(stack, "browse", buyer.external_userid), signal(stack, "coupon_claimed", buyer.external_userid,
                                                                    coupon_id="C1")]
    bad = [
        {"event_id": "bad-1", "type": "teleport", "occurred_at": "2026-11-24T10:00:00+08:00", "external_userid": "x"},
        {"event_id": "bad-2", "type": "browse", "occurred_at": "2026-11-24T10:00:00", "external_userid": "x",
         "product_id": "P1"},
        {"event_id": "bad-3", "type": "browse", "occurred_at": "2026-11-24T10:00:00+08:00", "product_id": "P1"},
    ]
    batch = {"signals": [good[0], *bad, good[1]]}
    status, body = await post_signed(stack, "/signals", batch)
    assert status == 202
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "rejected", "rejected", "accepted"]
    assert "type" in body["results"][1]["reason"]
    assert "UTC offset" in body["results"][2]["reason"]
    assert "external_userid" in body["results"][3]["reason"]
    status, again = await post_signed(stack, "/signals", batch)  # the shop retries the same request
    assert again["duplicate"] == 2 and again["accepted"] == 0
    await stack.settle()
    assert await Signal.filter(customer_id=buyer.id).count() == 2


async def test_order_paid_signal_feeds_the_order_aggregates(stack: Stack) -> None:
    buyer = await customer(stack)
    await send_signals(stack, signal(stack, "order_paid", buyer.external_userid, order_id="SO-1", amount="599.00",
                                     product_id="P9", product_name="羊毛大衣", category="外套"))
    await buyer.refresh_from_db()
    assert buyer.order_count == 2
    assert buyer.total_spent == Decimal("998.00")
    assert await Order.filter(order_id="SO-1", source="signal").exists()


async def test_signal_of_an_unknown_customer_is_kept_and_linked_when_the_customer_is_added(stack: Stack) -> None:
    stack.state.add_member(GUIDE, "王小美")
    unknown = signal(stack, "browse", "") | {"unionid": "UNION-777"}
    del unknown["external_userid"]
    await send_signals(stack, unknown)
    [kept] = await Signal.filter(unionid="UNION-777")
    assert kept.customer_id is None  # type: ignore[attr-defined]
    stack.state.add_external_contact("wmNEW777", "新客", unionid="UNION-777")
    xml = stack.state.customer_scans_qr(GUIDE, "wmNEW777", state="store_sh01")
    await stack.deliver(xml)
    await stack.settle()
    await kept.refresh_from_db()
    assert kept.customer_id == (await Customer.get(external_userid="wmNEW777")).id  # type: ignore[attr-defined]


# --- scoring -----------------------------------------------------------------------------------


def test_decay_halves_the_weight_every_half_life() -> None:
    assert decay(0, 48) == 1.0
    assert decay(48, 48) == pytest.approx(0.5)
    assert decay(96, 48) == pytest.approx(0.25)
    now = datetime.fromisoformat("2026-11-24T10:00:00+08:00")
    facts = [
        SignalFact("a", "browse", now, "P1", category="鞋"),
        SignalFact("b", "add_to_cart", now - timedelta(hours=48), "P1", category="鞋"),
        SignalFact("c", "browse", now - timedelta(hours=24), "P2", category="包"),
        SignalFact("d", "order_paid", now, "P2"),  # weight 0: not intent on its own
    ]
    scores = score_signals(facts, {"browse": 1, "add_to_cart": 3}, 48, now)
    assert scores.total == pytest.approx(1 + 3 * 0.5 + 2 ** -0.5, abs=1e-3)
    assert scores.by_product["P1"] == pytest.approx(2.5)
    assert scores.by_category["包"] == pytest.approx(2 ** -0.5, abs=1e-3)
    assert scores.top_product() == "P1"


# --- patterns and the card ----------------------------------------------------------------------


async def test_dormant_customer_browsing_again_gives_the_guide_one_clear_card(stack: Stack, tmp_path: Path) -> None:
    at_daytime(stack)
    sleeper = await customer(stack, dormant=True, name_hint="周小姐")
    ext = sleeper.external_userid
    # Earlier today (imported history, no cards): two views and a cart line.
    history = tmp_path / "today.jsonl"
    history.write_bytes(b"\n".join(orjson.dumps(s) for s in (
        signal(stack, "browse", ext, hours_ago=3), signal(stack, "browse", ext, hours_ago=2),
        signal(stack, "add_to_cart", ext, hours_ago=1.5))))
    await import_signals(history, attribution_days=7)
    await send_signals(stack, signal(stack, "browse", ext, hours_ago=0.1))
    [card] = lead_cards(stack)
    assert card["card_type"] == "button_interaction"
    assert card["main_title"]["title"] == "沉睡客户回来了：周小姐"
    assert card["sub_title_text"] == "已200天未购买，近24小时浏览「轻羽拖鞋」3次，加购未付款 ¥199"
    fields = {f["keyname"]: f["value"] for f in card["horizontal_content_list"]}
    assert fields["最近购买"].endswith("¥399")
    assert "周小姐" in card["quote_area"]["quote_text"] and "轻羽拖鞋" in card["quote_area"]["quote_text"]
    assert [b["text"] for b in card["button_list"]] == ["已联系", "稍后提醒", "不合适"]
    [lead] = await Lead.all()
    assert lead.pattern == "dormant_wakeup" and lead.status is LeadStatus.SENT
    # More views of the same sleeper: still one card (one wake-up lead per sleep).
    await send_signals(stack, signal(stack, "browse", ext), signal(stack, "browse", ext))
    assert len(lead_cards(stack)) == 1


async def test_repeat_browse_fires_on_the_third_view_of_one_product(stack: Stack) -> None:
    at_daytime(stack)
    ext = (await customer(stack)).external_userid
    await send_signals(stack, signal(stack, "browse", ext, hours_ago=5), signal(stack, "browse", ext, hours_ago=4))
    assert lead_cards(stack) == []
    await send_signals(stack, signal(stack, "browse", ext, hours_ago=1))
    [card] = lead_cards(stack)
    assert card["main_title"]["title"].startswith("反复浏览同一商品")
    assert "浏览「轻羽拖鞋」3次" in card["sub_title_text"]


async def test_cart_left_unpaid_for_two_hours_is_found_by_the_sweep_but_not_if_paid(stack: Stack) -> None:
    at_daytime(stack)
    left = (await customer(stack)).external_userid
    paid = (await customer(stack)).external_userid
    await send_signals(stack, signal(stack, "add_to_cart", left), signal(stack, "add_to_cart", paid))
    await tick(stack, "leads_sweep")
    assert lead_cards(stack) == []  # not yet two hours
    await send_signals(stack, signal(stack, "order_paid", paid, order_id="SO-PAID", amount="199"))
    clock(stack).advance(timedelta(hours=2, minutes=1))
    await tick(stack, "leads_sweep")
    [card] = lead_cards(stack)
    assert card["main_title"]["title"].startswith("加购未付款")
    assert "加购未付款 ¥199" in card["sub_title_text"]
    [lead] = await Lead.all().select_related("customer")
    assert lead.customer.external_userid == left


async def test_coupon_claimed_and_not_redeemed_two_days_before_expiry(stack: Stack) -> None:
    at_daytime(stack)
    ext = (await customer(stack)).external_userid
    redeemer = (await customer(stack)).external_userid
    expires = (stack.deps.clock.now() + timedelta(days=3)).isoformat()
    await send_signals(
        stack,
        signal(stack, "coupon_claimed", ext, coupon_id="C-50", expires_at=expires),
        signal(stack, "coupon_claimed", redeemer, coupon_id="C-51", expires_at=expires),
        signal(stack, "coupon_redeemed", redeemer, coupon_id="C-51"),
    )
    await tick(stack, "leads_sweep")
    assert lead_cards(stack) == []  # three days left
    clock(stack).advance(timedelta(days=1, hours=1))
    await tick(stack, "leads_sweep")
    [card] = lead_cards(stack)
    assert card["main_title"]["title"].startswith("优惠券即将到期")
    assert "小时后到期" in card["sub_title_text"]


async def test_high_intent_score_without_a_pattern_still_surfaces(stack: Stack) -> None:
    at_daytime(stack)
    ext = (await customer(stack)).external_userid
    await send_signals(stack, *(signal(stack, "link_open", ext, hours_ago=1) for _ in range(4)))
    assert lead_cards(stack) == []  # 4 x 2 = 8 points, decayed a little: below 8
    await send_signals(stack, signal(stack, "checkout_started", ext))
    [card] = lead_cards(stack)
    assert card["main_title"]["title"].startswith("购买意向升高")
    assert "打开了导购分享的链接" in card["sub_title_text"] and "下单未支付" in card["sub_title_text"]


# --- routing ------------------------------------------------------------------------------------


async def test_lead_goes_to_the_most_recent_guide_then_the_manager_then_nobody(stack: Stack) -> None:
    at_daytime(stack)
    stack.state.add_member("guide_sh01_b", "李晓")
    stack.state.add_member("manager_sh01", "张店长")
    now = stack.deps.clock.now()
    second_guide = await Guide.get(userid="guide_sh01_b")
    shared, orphaned, gone = [await customer(stack, dormant=True) for _ in range(3)]
    await Relationship.create(guide=second_guide, customer=shared, created_at=now - timedelta(days=5))
    # orphaned: its only guide removed the customer; gone: the customer deleted the guide.
    await Relationship.filter(customer=orphaned).update(deleted_by_guide_at=now)
    await Relationship.filter(customer=gone).update(deleted_by_customer_at=now)
    await send_signals(stack, *(signal(stack, "browse", c.external_userid) for c in (shared, orphaned, gone)))
    assert len(lead_cards(stack, "guide_sh01_b")) == 1  # the most recent relation
    assert len(lead_cards(stack, GUIDE)) == 0
    assert len(lead_cards(stack, "manager_sh01")) == 1  # the owner no longer serves this customer
    assert await Lead.filter(status=LeadStatus.UNROUTED).count() == 1  # deleted every guide: no card


async def test_a_guide_who_left_passes_leads_to_the_store_pool(stack: Stack) -> None:
    at_daytime(stack)
    stack.state.add_member("guide_sh01_b", "李晓")
    sleeper = await customer(stack, dormant=True)
    await Guide.filter(userid=GUIDE).update(active=False)
    pools = dict(stack.deps.config[LEADS].pools)
    object.__setattr__(stack.deps.config[LEADS], "pools", pools | {"sh01": "guide_sh01_b"})
    await send_signals(stack, signal(stack, "browse", sleeper.external_userid))
    assert len(lead_cards(stack, "guide_sh01_b")) == 1
    [lead] = await Lead.all()
    assert (lead.owner_userid, lead.guide_userid, lead.store_code) == (GUIDE, "guide_sh01_b", "sh01")


# --- anti-spam ----------------------------------------------------------------------------------


async def test_hourly_budget_folds_the_rest_into_one_digest_card(stack: Stack) -> None:
    at_daytime(stack)
    sleepers = [await customer(stack, dormant=True) for _ in range(10)]
    await send_signals(stack, *(signal(stack, "browse", c.external_userid) for c in sleepers))
    assert len(lead_cards(stack)) == 6
    assert await Lead.filter(status=LeadStatus.FOLDED).count() == 4
    await tick(stack, "leads_flush")
    assert not [c for c in cards_to(stack) if c.content["task_id"].startswith("lead-digest")]  # still gathering
    clock(stack).advance(timedelta(minutes=11))
    await tick(stack, "leads_flush")
    await tick(stack, "leads_flush")
    [digest] = [c.content for c in cards_to(stack) if c.content["task_id"].startswith("lead-digest")]
    assert digest["main_title"]["title"] == "还有 4 条线索"
    assert len(lead_cards(stack)) == 6  # folded leads never become cards of their own

    # 查看全部 lists them in chat.
    await stack.deliver(stack.state.guide_clicks_card(GUIDE, digest["task_id"], digest["button_list"][0]["key"]))
    await stack.settle()
    [listing] = [m.content["content"] for m in stack.state.messages_to(GUIDE) if m.msgtype == "text"]
    assert listing.startswith("待跟进线索（4 条）") and listing.count("\n") == 4


async def test_daily_budget_caps_cards_across_hours(stack: Stack) -> None:
    at_daytime(stack)
    # The shipped config: 6 cards per hour, 30 per day.
    sent = 0
    for _hour in range(6):
        batch = [await customer(stack, dormant=True) for _ in range(6)]
        await send_signals(stack, *(signal(stack, "browse", c.external_userid) for c in batch))
        sent = len(lead_cards(stack))
        clock(stack).advance(timedelta(hours=1, minutes=1))
    assert sent == 30


async def test_cool_down_keeps_one_lead_per_customer_unless_the_score_jumps(stack: Stack) -> None:
    at_daytime(stack)
    ext = (await customer(stack)).external_userid
    await send_signals(stack, signal(stack, "link_open", ext, hours_ago=4))
    await send_signals(stack, *(signal(stack, "browse", ext, hours_ago=h) for h in (3, 2, 1)))
    assert len(lead_cards(stack)) == 1  # repeat_browse, score ~5
    tote = {"product_id": "P200", "product_name": "托特包"}
    await send_signals(stack, *(signal(stack, "browse", ext, **tote) for _ in range(3)))
    assert len(lead_cards(stack)) == 1  # a new fact within 24 h, but the score did not double: held back
    assert await Lead.filter(status=LeadStatus.SUPPRESSED).count() == 1
    # The score more than doubles (cart, checkout): that is news, the guide hears it.
    await send_signals(stack, signal(stack, "add_to_cart", ext, **tote, price="399"),
                       signal(stack, "checkout_started", ext))
    cards = lead_cards(stack)
    assert len(cards) == 2
    assert cards[1]["main_title"]["title"].startswith("购买意向升高")


async def test_quiet_hours_hold_cards_until_morning_best_first(stack: Stack) -> None:
    clock(stack).advance_to_local(22, 0)
    plain = await customer(stack)
    sleeper = await customer(stack, dormant=True, name_hint="沉睡客")
    await send_signals(stack, *(signal(stack, "browse", plain.external_userid, hours_ago=h / 10) for h in (3, 2, 1)))
    await send_signals(stack, signal(stack, "browse", sleeper.external_userid))
    assert lead_cards(stack) == []
    assert await Lead.filter(status=LeadStatus.HELD).count() == 2
    clock(stack).advance_to_local(8, 59)
    await tick(stack, "leads_flush")
    assert lead_cards(stack) == []
    clock(stack).advance_to_local(9, 1)
    await tick(stack, "leads_flush")
    titles = [c["main_title"]["title"] for c in lead_cards(stack)]
    assert titles == ["沉睡客户回来了：沉睡客", f"反复浏览同一商品：{plain.name}"]


# --- clicks and attribution ---------------------------------------------------------------------


async def click(stack: Stack, card: dict[str, Any], label: str, userid: str = GUIDE) -> None:
    key = next(b["key"] for b in card["button_list"] if b["text"] == label)
    await stack.deliver(stack.state.guide_clicks_card(userid, card["task_id"], key))
    await stack.settle()


async def test_contacted_updates_the_card_once_and_an_order_in_the_window_converts(stack: Stack) -> None:
    at_daytime(stack)
    sleeper = await customer(stack, dormant=True)
    await send_signals(stack, signal(stack, "browse", sleeper.external_userid))
    [card] = lead_cards(stack)
    await click(stack, card, "已联系")
    await click(stack, card, "已联系")  # a second tap
    [message] = cards_to(stack)
    assert message.updates == [{"button": {"replace_name": "已联系 ✓"}}]
    assert stack.state.count_calls("message/update_template_card") == 1
    [lead] = await Lead.all()
    assert lead.status is LeadStatus.CONTACTED and lead.contacted_at is not None

    clock(stack).advance(timedelta(days=3))
    await send_signals(stack, signal(stack, "order_paid", sleeper.external_userid, order_id="WIN-1", amount="880"))
    await lead.refresh_from_db()
    assert lead.converted_order_id == "WIN-1" and lead.converted_amount == Decimal("880.00")
    [figures] = await lead_figures(stack.deps.clock.now() - timedelta(days=30), stack.deps.clock.now())
    assert (figures.sent, figures.contacted, figures.converted, figures.sales) == (1, 1, 1, Decimal("880.00"))
    assert figures.contact_rate == 1.0


async def test_an_order_after_the_attribution_window_is_not_a_conversion(stack: Stack) -> None:
    at_daytime(stack)
    sleeper = await customer(stack, dormant=True)
    await send_signals(stack, signal(stack, "browse", sleeper.external_userid))
    [card] = lead_cards(stack)
    await click(stack, card, "已联系")
    clock(stack).advance(timedelta(days=8))
    await send_signals(stack, signal(stack, "order_paid", sleeper.external_userid, order_id="LATE-1", amount="880"))
    [lead] = await Lead.all()
    assert lead.converted_at is None


async def test_snooze_brings_the_lead_back_after_two_hours(stack: Stack) -> None:
    at_daytime(stack)
    sleeper = await customer(stack, dormant=True)
    await send_signals(stack, signal(stack, "browse", sleeper.external_userid))
    [card] = lead_cards(stack)
    await click(stack, card, "稍后提醒")
    assert cards_to(stack)[0].updates == [{"button": {"replace_name": "已推迟"}}]
    clock(stack).advance(timedelta(hours=1))
    await tick(stack, "leads_flush")
    assert len(lead_cards(stack)) == 1
    clock(stack).advance(timedelta(hours=1, minutes=1))
    await tick(stack, "leads_flush")
    first, reminder = lead_cards(stack)
    assert reminder["main_title"]["title"].startswith("【提醒】")
    await click(stack, first, "不合适")  # the old card: harmless
    await click(stack, reminder, "不合适")
    [lead] = await Lead.all()
    assert lead.status is LeadStatus.DISMISSED
    assert stack.state.count_calls("message/update_template_card") == 2


async def test_clicks_on_foreign_unknown_or_malformed_cards_are_harmless(stack: Stack) -> None:
    at_daytime(stack)
    stack.state.add_member("guide_sh01_b", "李晓")
    sleeper = await customer(stack, dormant=True)
    await send_signals(stack, signal(stack, "browse", sleeper.external_userid))
    [card] = lead_cards(stack)
    task = card["task_id"]
    for key in ("lead:contacted:999999:1", "lead:contacted:abc:1", "lead:explode", "sop:done:1"):
        await stack.deliver(stack.state.guide_clicks_card(GUIDE, task, key))
    # Someone else presses a button of this card (e.g. a forwarded key).
    xml = stack.state.guide_clicks_card(GUIDE, task, card["button_list"][0]["key"]).replace(
        f"<FromUserName><![CDATA[{GUIDE}]]>", "<FromUserName><![CDATA[guide_sh01_b]]>"
    )
    await stack.deliver(xml)
    await stack.settle()
    [lead] = await Lead.all()
    assert lead.status is LeadStatus.SENT
    assert stack.state.count_calls("message/update_template_card") == 0
    assert (await stack.deps.queue.depth())["dead"] == 0


# --- import and config --------------------------------------------------------------------------


async def test_import_signals_backfills_history_without_cards(stack: Stack, tmp_path: Path) -> None:
    sleeper = await customer(stack, dormant=True)
    lines = [signal(stack, "browse", sleeper.external_userid, hours_ago=h) for h in (30, 20, 10)]
    lines.append(signal(stack, "order_paid", sleeper.external_userid, order_id="HIST-1", amount="100", hours_ago=5))
    path = tmp_path / "signals.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in lines) + b"\n{broken\n")
    result = await import_signals(path, attribution_days=7)
    assert (result.stored, result.linked, len(result.errors)) == (4, 4, 1)
    assert result.errors[0].startswith(f"{path}:5:")
    assert await Signal.filter(customer_id=sleeper.id).count() == 4
    assert await Order.filter(order_id="HIST-1").exists()
    assert lead_cards(stack) == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("per_hour: 6", "per_hour: many"), "per_hour must be a number"),
        (("  repeat_browse:\n", "  repeat_browsing:\n"), "unknown lead pattern 'repeat_browsing'"),
        (("{count: 3, within_hours: 24}", "{count: 3, hours: 24}"), "unknown params ['hours']"),
        (("加购未付款 ¥{cart_amount}", "加购未付款 ¥{total}"), "unknown placeholder(s) ['total']"),
        (("  per_day: 30", '  quiet_hours: "22:00-08:00"\n  per_day: 30'), "quiet_hours moved to the SCRM_QUIET_HOURS"),
    ],
)
def test_a_broken_leads_config_names_the_line_and_the_problem(
    tmp_path: Path, edit: Sequence[str], message: str
) -> None:
    shipped = (Path(__file__).parents[1] / "config" / "leads.yaml").read_text(encoding="utf-8")
    old, new = edit
    assert old in shipped
    path = tmp_path / "leads.yaml"
    path.write_text(shipped.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_leads_config(path)
    assert str(caught.value).startswith(f"{path}: line ") and message in str(caught.value)


# --- in chat, on the leaderboards, through a hand-over ------------------------------------------


async def test_a_guide_asks_for_open_leads_in_chat(stack: Stack) -> None:
    from tests.test_operators import say

    at_daytime(stack)
    sleeper = await customer(stack, dormant=True, name_hint="吴先生")
    await send_signals(stack, signal(stack, "browse", sleeper.external_userid))
    answer = await say(stack, GUIDE, "线索")
    assert answer.startswith("你有 1 条待跟进线索")
    assert "吴先生｜沉睡客户回来了｜已200天未购买" in answer and "待联系" in answer
    # The store manager sees the whole store's; the customer's profile shows the open lead too.
    stack.state.add_member("manager_sh01", "张店长")
    assert (await say(stack, "manager_sh01", "线索")).startswith("本店有 1 条待跟进线索")
    assert "线索：已200天未购买" in await say(stack, GUIDE, "客户 吴先生")
    [card] = lead_cards(stack)
    await click(stack, card, "已联系")
    assert "没有待跟进的线索" in await say(stack, GUIDE, "leads")


async def test_lead_metrics_rank_guides_by_contacted_converted_and_sales(stack: Stack) -> None:
    from boards.kinds import compute

    at_daytime(stack)
    stack.state.add_member("guide_sh01_b", "李晓")
    now = stack.deps.clock.now()
    guides = {g.userid: g.id for g in await Guide.filter(userid__in=[GUIDE, "guide_sh01_b"])}
    rows = [  # (guide, contacted, converted amount)
        (GUIDE, True, Decimal("880")), (GUIDE, True, None), (GUIDE, False, None),
        ("guide_sh01_b", True, Decimal("120")),
    ]
    for i, (guide, contacted, amount) in enumerate(rows):
        owner = await customer(stack, guide=guide)
        await Lead.create(key=f"k{i}", customer=owner, pattern="high_intent", guide_userid=guide, owner_userid=guide,
                          status=LeadStatus.CONTACTED if contacted else LeadStatus.SENT, created_at=now, sent_at=now,
                          contacted_at=now if contacted else None, converted_at=now if amount else None,
                          converted_amount=amount)
    window = (now - timedelta(hours=1), now + timedelta(hours=1))
    a, b = guides[GUIDE], guides["guide_sh01_b"]
    assert await compute("leads_contacted", "guide", *window) == {a: 2, b: 1}
    assert await compute("leads_converted", "guide", *window) == {a: 1, b: 1}
    assert await compute("attributed_sales", "guide", *window) == {a: 880.0, b: 120.0}
    rates = await compute("lead_contact_rate", "guide", *window)
    assert rates[a] == pytest.approx(2 / 3) and rates[b] == 1.0
    assert await compute("leads_contacted", "guide", now + timedelta(hours=1), now + timedelta(hours=2)) == {}


async def test_open_leads_follow_customers_handed_over_to_another_guide(stack: Stack) -> None:
    from handlers.leads import move_open_leads

    at_daytime(stack)
    stack.state.add_member("guide_sh01_b", "李晓")
    waiting, done = await customer(stack, dormant=True), await customer(stack, dormant=True)
    await send_signals(stack, signal(stack, "browse", waiting.external_userid),
                       signal(stack, "browse", done.external_userid))
    cards = {c["main_title"]["title"]: c for c in lead_cards(stack)}
    await click(stack, cards[f"沉睡客户回来了：{done.name}"], "已联系")
    moved = await move_open_leads(stack.deps, GUIDE, "guide_sh01_b", [waiting.external_userid, done.external_userid])
    assert moved == 1
    assert await move_open_leads(stack.deps, GUIDE, "guide_sh01_b", [waiting.external_userid]) == 0  # idempotent
    [open_lead] = await Lead.filter(status=LeadStatus.SENT)
    assert (open_lead.guide_userid, open_lead.customer_id) == ("guide_sh01_b", waiting.id)  # type: ignore[attr-defined]


async def test_member_only_signals_find_their_customer_through_the_member_table(stack: Stack, tmp_path: Path) -> None:
    from leads.importer import import_members

    at_daytime(stack)
    sleeper = await customer(stack, dormant=True)
    member_only = signal(stack, "browse", "") | {"member_id": "VIP-0042"}
    del member_only["external_userid"]
    await send_signals(stack, member_only)
    [kept] = await Signal.filter(member_id="VIP-0042")
    assert kept.customer_id is None  # type: ignore[attr-defined]
    members = tmp_path / "members.csv"
    members.write_text(f"member_id,external_userid,unionid\nVIP-0042,{sleeper.external_userid},\nVIP-BAD,,\n",
                       encoding="utf-8")
    result = await import_members(members)
    assert (result.stored, result.linked_signals, len(result.errors)) == (1, 1, 1)
    await kept.refresh_from_db()
    assert kept.customer_id == sleeper.id  # type: ignore[attr-defined]
    # From now on the member id alone is enough: a browse by VIP-0042 wakes a lead for the guide.
    again = signal(stack, "browse", "") | {"member_id": "VIP-0042"}
    del again["external_userid"]
    await send_signals(stack, again)
    assert len(lead_cards(stack)) == 1
