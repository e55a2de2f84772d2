"""Predictions at work: tags explained in words, and the customer profile a guide asks for in chat."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.appconfig import load_app_config
from bot.configfiles import ConfigError
from customers.models import Customer, Guide
from predict.models import PredictionRun
from tagging.config import TAG_RULES
from tagging.report import explain_customer
from tagging.service import retag_everyone
from tests.conftest import Stack
from tests.support.facts import craft_customer, craft_prediction
from tests.test_leads import app_clock, clock, customer, lead_cards, send_signals, signal, tick
from tests.test_operators import ops, say
from tests.test_sop import config_dir, sop

# Fixtures: the operators' app, the clock that follows the simulator's, SOP deps on a manual clock.
__all__ = ["ops", "app_clock", "config_dir", "sop"]

WHY = {"recency": 12, "n": 3, "value": 2340, "gap_mean": 20, "add_to_cart_30d": 2}


async def test_the_top_decile_is_tagged_and_the_tag_says_why(ops: Stack) -> None:
    now = ops.deps.clock.now()
    likely = await craft_customer(
        ops.state, {"orders": [{"days_ago": 12, "amount": 300}], "prediction": {"p_buy_90": 0.62, "rank_pct": 0.07}},
        now)
    unlikely = await craft_customer(
        ops.state, {"orders": [{"days_ago": 300, "amount": 99}], "prediction": {"p_buy_90": 0.08, "rank_pct": 0.7}},
        now)
    await retag_everyone(ops.deps, push=True)
    explained = "\n".join(await explain_customer(ops.deps.config[TAG_RULES], likely.external_userid))
    assert "预计90天内购买概率 62%（前8%） → 高潜复购" in explained
    assert "高潜复购" in {ops.state.tags[t].name for t in ops.state.tag_ids_of("guide_sh01_a", likely.external_userid)}
    assert "高潜复购" not in {ops.state.tags[t].name
                              for t in ops.state.tag_ids_of("guide_sh01_a", unlikely.external_userid)}


async def test_a_frequent_buyer_whose_p_alive_fell_gets_a_churn_warning(ops: Stack) -> None:
    now = ops.deps.clock.now()
    orders = [{"days_ago": d, "amount": 300} for d in (150, 170, 190, 210)]
    fading = await craft_customer(ops.state, {"orders": orders, "prediction": {"p_alive": 0.35, "p_alive_peak": 0.8}},
                                  now)
    steady = await craft_customer(ops.state, {"orders": orders, "prediction": {"p_alive": 0.75, "p_alive_peak": 0.8}},
                                  now)
    await retag_everyone(ops.deps)
    explained = "\n".join(await explain_customer(ops.deps.config[TAG_RULES], fading.external_userid))
    assert "活跃概率从上次购买后的 80% 降至 35%，曾购买 4 次 → 流失预警" in explained
    assert "流失预警" not in "\n".join(await explain_customer(ops.deps.config[TAG_RULES], steady.external_userid))


async def test_the_customer_profile_in_chat_shows_the_prediction_and_why(ops: Stack) -> None:
    now = ops.deps.clock.now()
    given = {"orders": [{"days_ago": 12, "amount": 800}],
             "prediction": {"p_buy_90": 0.62, "p_buy_30": 0.31, "rank_pct": 0.07, "spend_90": 1180, "why": WHY}}
    customer = await craft_customer(ops.state, given, now, external_userid="wmPredict01")
    await Customer.filter(id=customer.id).update(name="陈女士")
    answer = await say(ops, "guide_sh01_a", "客户 陈女士")
    assert "预计90天内购买概率 62%（前8%），30天内 31%" in answer
    assert "预计90天消费 ¥1,180" in answer
    assert "依据：最近一次购买 12 天前，共 3 次，累计 ¥2,340，约每 20 天一次，近30天加购 2 次" in answer
    from predict.chat import prediction_json  # what a page (the sidebar) shows

    shown = await prediction_json(customer.id)
    assert shown is not None and shown["p_buy_90"] == 0.62 and shown["spend_90"] == 1180


def test_a_templates_file_without_a_prediction_text_stops_the_start_naming_it(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parent.parent / "config"
    shutil.copytree(shipped, tmp_path / "config")
    templates = tmp_path / "config" / "templates.yaml"
    text = templates.read_text("utf-8")
    templates.write_text(text.replace("predict_signal_add_to_cart:", "predict_signal_to_cart:"), "utf-8")
    with pytest.raises(ConfigError, match=r"template\(s\) predict_signal_add_to_cart missing \(the predict"):
        load_app_config(tmp_path / "config")


async def test_the_profile_says_what_moved_the_score_and_no_method_words(ops: Stack) -> None:
    now = ops.deps.clock.now()
    why = {**WHY, "reasons": [{"feature": "add_to_cart_30d", "value": 3, "change": 0.18},
                              {"feature": "recency_over_gap", "value": 1.4, "change": -0.09}]}
    given = {"orders": [{"days_ago": 12, "amount": 800}], "prediction": {"p_buy_90": 0.62, "why": why, "method": "rfm"}}
    customer = await craft_customer(ops.state, given, now, external_userid="wmPredict02")
    await Customer.filter(id=customer.id).update(name="韩女士")
    answer = await say(ops, "guide_sh01_a", "客户 韩女士")
    assert "依据：近30天加购3次（+18%），已超过平时复购间隔（−9%）" in answer
    for jargon in ("RFM", "模型", "回测", "排名："):
        assert jargon not in answer


async def test_no_prediction_yet_no_section(ops: Stack) -> None:
    customer = await craft_customer(ops.state, {}, ops.deps.clock.now(), external_userid="wmNew01")
    await Customer.filter(id=customer.id).update(name="新朋友")
    assert "购买预测" not in await say(ops, "guide_sh01_a", "客户 新朋友")


# --- leads: intent weighed by predicted value --------------------------------------------------------


async def test_overnight_leads_go_out_most_valuable_first(stack: Stack) -> None:
    """Two customers browse the same product three times at night; the one expected to spend more
    (the nightly prediction) gets the first card in the morning, though her intent is the same."""
    clock(stack).advance_to_local(22, 0)
    now = stack.deps.clock.now()
    modest = await customer(stack, name_hint="普通客")
    valued = await customer(stack, name_hint="高价值客")
    await PredictionRun.create(computed_at=now, method="model", customers=2, mean_spend_90=500)
    await craft_prediction(modest, {"spend_90": 250}, now)
    await craft_prediction(valued, {"spend_90": 1500}, now)
    for who in (modest, valued):
        await send_signals(stack, *(signal(stack, "browse", who.external_userid, hours_ago=h / 10) for h in (3, 2, 1)))
    clock(stack).advance_to_local(9, 1)
    await tick(stack, "leads_flush")
    titles = [c["main_title"]["title"] for c in lead_cards(stack)]
    assert titles == ["反复浏览同一商品：高价值客", "反复浏览同一商品：普通客"]


# --- HQ: expected 90-day sales of each store's base ---------------------------------------------------


async def test_hq_sees_each_stores_expected_sales_on_the_board_and_in_the_report(ops: Stack) -> None:
    from datetime import timedelta

    from boards.kinds import compute
    from customers.models import Store
    from predict.report import store_figures

    now = ops.deps.clock.now()
    for guide, spend in (("guide_sh01_a", 1000), ("guide_sh01_a", 500), ("guide_hz01_a", 800)):
        await craft_customer(ops.state, {"orders": [{"days_ago": 30, "amount": 100}],
                                         "prediction": {"spend_90": spend, "p_buy_90": 0.5}}, now, guide=guide)
    await craft_customer(ops.state, {"lost": True, "orders": [{"days_ago": 30, "amount": 100}],
                                     "prediction": {"spend_90": 9999}}, now)  # deleted the guide: not in the base
    stores = {s.id: s.code for s in await Store.all()}
    board = await compute("expected_sales_90", "store", now - timedelta(days=1), now + timedelta(minutes=1))
    assert {stores[k]: v for k, v in board.items()} == {"sh01": 1500, "hz01": 800}
    report = {f.store: (f.customers, f.expected_sales, f.likely_buyers) for f in await store_figures()}
    assert report == {"上海南京西路店": (2, 1500, 1.0), "杭州湖滨店": (1, 800, 0.5)}


# --- SOP: the guide's list, most expected value first ------------------------------------------------


async def test_the_guides_todo_puts_the_customer_expected_to_spend_most_first(sop: Any) -> None:
    """Two new customers added the same minute; the one expected to spend more over 90 days comes first
    in the guide's 待办 (the same playbook, so the same priority)."""
    from datetime import timedelta

    from sop.delivery import open_tasks_by_guide
    from sop.service import run_tick
    from tests.test_sop import MONDAY_8AM, customer

    modest = await customer(added=MONDAY_8AM - timedelta(minutes=30), name="小额客")
    valued = await customer(added=MONDAY_8AM - timedelta(minutes=30), name="大额客")
    await craft_prediction(modest, {"spend_90": 120}, MONDAY_8AM)
    await craft_prediction(valued, {"spend_90": 2400}, MONDAY_8AM)
    await run_tick(sop)
    listed = (await open_tasks_by_guide(MONDAY_8AM + timedelta(days=1), 5, userid="guide_sh01_a"))["guide_sh01_a"]
    assert [row["customer_name"] for row in listed][:2] == ["大额客", "小额客"]


async def test_the_guides_todo_and_digest_put_the_overdue_task_first_as_the_sidebar_does(sop: Any, sim: Any) -> None:
    """Yesterday's task for a modest customer before today's for a valuable one: overdue is the next best
    action (sidebar/nextaction.py), in 待办 and in the morning digest alike."""
    from datetime import timedelta

    from sop.chat import tasks_reply
    from sop.delivery import send_digests
    from sop.models import SopTask
    from tests.test_sop import customer

    now = sop.clock.now()
    modest = await customer(added=now - timedelta(days=30), name="逾期客")
    valued = await customer(added=now - timedelta(days=30), name="大额客")
    guide = await Guide.get(userid="guide_sh01_a")
    for who, due, value, reason in ((valued, now + timedelta(hours=2), 100_000 + 2400, "今天回访"),
                                    (modest, now - timedelta(days=1), 100_000 + 120, "昨天的回访")):
        await SopTask.create(playbook="post_purchase", step="d7_follow", customer=who, guide=guide,
                             occurrence=f"t{who.id}", due_at=due, reason=reason, value=value, created_at=now)
    reply = await tasks_reply(sop, "guide_sh01_a")
    assert reply.index("逾期客") < reply.index("大额客")
    assert await send_digests(sop) == 1
    card = next(m.content for m in sim.state.messages_to("guide_sh01_a") if m.msgtype == "template_card")
    assert [row["keyname"][-3:] for row in card["horizontal_content_list"]] == ["逾期客", "大额客"]
