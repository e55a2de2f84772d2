"""Auto-tagging as a brand sees it: the right tags, explained, and the same tags in WeCom."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from boards.kinds import dormant_days_of
from bot.app import open_deps
from bot.appconfig import load_app_config
from bot.clock import ManualClock
from bot.configfiles import ConfigError
from bot.deps import Deps
from config.settings import Settings
from customers.models import Customer, CustomerTag, Tag, TagSource
from customers.orders import read_orders_csv, record_orders
from leads.config import LEADS
from tagging.config import TAG_RULES, load_rules
from tagging.delivery import push_pending, reconcile
from tagging.report import explain_customer
from tagging.service import retag_customers, retag_everyone
from tests.support.facts import craft_customer

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
RULES = load_rules(CONFIG_DIR / "tag_rules.yaml")
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


@pytest.fixture
async def deps(make_settings: Callable[..., Settings], sim: Any) -> AsyncIterator[Deps]:
    sim.state.add_member("guide_sh01_a", "王小美")
    async with open_deps(make_settings(wecom_api_base=sim.url), clock=ManualClock(NOW)) as built:
        yield built


def wecom_tags(sim: Any, external_userid: str, guide: str = "guide_sh01_a") -> set[str]:
    """Tag names on the relation, as WeCom (the simulator) has them."""
    return {sim.state.tags[t].name for t in sim.state.tag_ids_of(guide, external_userid)}


async def local_tags(customer: Customer, *, rule_id: str | None = None) -> set[str]:
    query = CustomerTag.filter(customer_id=customer.id, removed=False)
    if rule_id is not None:
        query = query.filter(rule_id=rule_id, source=TagSource.RULE)
    return {row.tag.name for row in await query.prefetch_related("tag")}


EXAMPLES = [(rule.id, i) for rule in RULES.rules for i in range(len(rule.examples))]


@pytest.mark.parametrize(("rule_id", "index"), EXAMPLES, ids=[f"{r}-{i}" for r, i in EXAMPLES])
async def test_every_rule_example_in_config_holds(deps: Deps, sim: Any, rule_id: str, index: int) -> None:
    rule = RULES.rule(rule_id)
    example = rule.examples[index]
    customer = await craft_customer(sim.state, example.given, NOW)
    await retag_customers(deps, [customer.id])
    assert await local_tags(customer, rule_id=rule_id) == set(example.expect)
    if not example.given.get("lost"):
        assert set(example.expect) <= wecom_tags(sim, customer.external_userid), "the same tags in WeCom"


async def test_entering_a_stage_removes_the_previous_one_in_wecom(deps: Deps, sim: Any) -> None:
    customer = await craft_customer(sim.state, {"orders": [{"days_ago": 10, "amount": 199}]}, NOW)
    await retag_customers(deps, [customer.id])
    assert {"首购"} <= wecom_tags(sim, customer.external_userid)
    deps.clock.advance(timedelta(days=200))  # type: ignore[attr-defined]
    await retag_customers(deps, [customer.id])
    in_wecom = wecom_tags(sim, customer.external_userid)
    assert "沉睡" in in_wecom and "首购" not in in_wecom
    assert await local_tags(customer, rule_id="lifecycle") == {"沉睡"}


async def test_nothing_changed_means_no_mark_tag(deps: Deps, sim: Any) -> None:
    for days in (5, 50, 300):
        await craft_customer(sim.state, {"orders": [{"days_ago": days, "amount": 500}]}, NOW)
    first = await retag_everyone(deps)
    assert first.sync is not None and first.sync.mark_tag_calls == 3
    calls = sim.state.count_calls("externalcontact/mark_tag")
    second = await retag_everyone(deps)
    assert second.retag.pending_relations == 0 and second.sync is None
    assert sim.state.count_calls("externalcontact/mark_tag") == calls


async def test_manual_tags_from_guides_are_never_removed(deps: Deps, sim: Any) -> None:
    customer = await craft_customer(sim.state, {}, NOW)
    await retag_everyone(deps)
    # The guide tags the customer 拖鞋 by hand in WeCom, though no rule would (no browsing).
    slippers = await Tag.get(name="拖鞋")
    sim.state.relations["guide_sh01_a"][customer.external_userid].tag_ids.add(slippers.wecom_id)
    await reconcile(deps)
    await retag_everyone(deps)
    assert "拖鞋" in wecom_tags(sim, customer.external_userid)
    row = await CustomerTag.get(customer_id=customer.id, tag=slippers)
    assert row.source == TagSource.WECOM and not row.removed


async def test_drift_in_wecom_is_repaired_by_reconcile(deps: Deps, sim: Any) -> None:
    customer = await craft_customer(sim.state, {"orders": [{"days_ago": 10, "amount": 199}]}, NOW)
    await retag_everyone(deps)
    first_buy = await Tag.get(name="首购")
    relation = sim.state.relations["guide_sh01_a"][customer.external_userid]
    relation.tag_ids.discard(first_buy.wecom_id)  # someone removed it in WeCom behind our back
    assert "首购" not in wecom_tags(sim, customer.external_userid)
    corrected = await reconcile(deps)
    result = await push_pending(deps)
    assert corrected == 1 and result.mark_tag_calls == 1
    assert "首购" in wecom_tags(sim, customer.external_userid)


async def test_failed_sync_stays_pending_and_is_retried(deps: Deps, sim: Any) -> None:
    customer = await craft_customer(sim.state, {"orders": [{"days_ago": 10, "amount": 199}]}, NOW)
    sim.state.faults.inject("externalcontact/mark_tag", errcode=45009)  # until cleared
    run = await retag_everyone(deps)
    assert run.sync is not None and run.sync.failed == 1
    assert "首购" not in wecom_tags(sim, customer.external_userid)
    sim.state.faults.clear()
    assert (await push_pending(deps)).mark_tag_calls == 1
    assert "首购" in wecom_tags(sim, customer.external_userid)


async def test_explanation_names_rule_and_evidence(deps: Deps, sim: Any) -> None:
    orders = [{"days_ago": 12, "amount": 800}, {"days_ago": 40, "amount": 900}, {"days_ago": 60, "amount": 640}]
    customer = await craft_customer(sim.state, {"orders": orders, "state": "store_sh01"}, NOW)
    await retag_customers(deps, [customer.id])
    text = "\n".join(await explain_customer(RULES, customer.external_userid))
    assert "RFM分层/重要价值客户" in text and "R=12天, F=3, M=¥2,340 → 重要价值客户" in text
    assert "来源门店/上海南京西路店" in text and "state=store_sh01" in text
    assert "生命周期/活跃" in text


async def test_orders_csv_import_feeds_rfm(deps: Deps, sim: Any, tmp_path: Path) -> None:
    customer = await craft_customer(sim.state, {}, NOW)
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text(
        "order_id,external_userid,amount,paid_at,product_id,category,quantity,price\n"
        f"A1,{customer.external_userid},1200,2026-11-10T20:00:00+08:00,P1,拖鞋,2,600\n"
        f"A1,{customer.external_userid},1200,2026-11-10T20:00:00+08:00,P2,袜子,1,0\n"
        f"A2,{customer.external_userid},300,not-a-date,,,,\n"
        f"A3,{customer.external_userid},-5,2026-11-01T10:00:00+08:00,,,,\n",
        encoding="utf-8",
    )
    orders, errors = read_orders_csv(csv_file)
    assert [o.order_id for o in orders] == ["A1"] and len(orders[0].lines) == 2
    assert len(errors) == 2 and "paid_at" in errors[0] and "negative" in errors[1]
    await record_orders(orders)
    await record_orders(orders)  # importing the same file again adds nothing
    customer = await Customer.get(id=customer.id)
    assert customer.order_count == 1 and float(customer.total_spent) == 1200
    await retag_customers(deps, [customer.id])
    assert await local_tags(customer, rule_id="rfm") == {"重要发展客户"}


BROKEN = {
    "unknown type": ("type: rfm\n", "type: magic\n", "unknown tag rule type 'magic'"),
    "bad parameter": ("    min_count: 3\n", "    min_count: lots\n", "min_count must be a number"),
    "duplicate id": ("  - id: interest_gift\n", "  - id: interest_slippers\n", "duplicate id"),
    "undeclared group": ("    group: 活动\n", "    group: 促销\n", "group '促销' is not declared"),
    "no example": (
        "    examples:\n      - given: {state: camp_1111_sh01}\n        expect: [双11]\n",
        "",
        "needs at least one example",
    ),
    "yaml syntax": ("groups:\n", "groups: [\n", "tag_rules.yaml"),
    # 沉睡 is one threshold for every feature: set on the lifecycle rule, nowhere else.
    "own dormancy": ("    top_pct: 30\n", "    dormant_days: 90\n    top_pct: 30\n",
                     "dormant_days is the lifecycle's threshold, shared by tagging, leads, SOP and the boards: "
                     "set it once, on the lifecycle rule in tag_rules.yaml (now 180)"),
    "two lifecycles": ("  - id: rfm\n", "  - id: lifecycle_b\n    description: 另一套阶段\n    type: lifecycle\n"
                       "    group: 生命周期\n    dormant_days: 90\n    examples: [{given: {}, expect: [新客]}]\n"
                       "  - id: rfm\n", "its thresholds disagree with the first lifecycle rule's"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_rules_file_refuses_to_load_and_names_the_problem(case: str, tmp_path: Path) -> None:
    before, after, message = BROKEN[case]
    config = shipped_config(tmp_path)
    text = (config / "tag_rules.yaml").read_text(encoding="utf-8")
    assert before in text
    (config / "tag_rules.yaml").write_text(text.replace(before, after, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_app_config(config)
    assert message in str(info.value)
    assert "tag_rules.yaml" in str(info.value)
    if case != "yaml syntax":
        assert "line " in str(info.value)


def shipped_config(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return config


def test_one_dormancy_threshold_for_tags_leads_and_boards(tmp_path: Path) -> None:
    """An operator who moves 沉睡 to 120 days in tag_rules.yaml moves it everywhere at once."""
    config = shipped_config(tmp_path)
    rules = config / "tag_rules.yaml"
    text = rules.read_text(encoding="utf-8")
    assert text.count("    dormant_days: 180\n") == 1, "set once, on the lifecycle rule"
    rules.write_text(text.replace("    dormant_days: 180\n", "    dormant_days: 120\n"), encoding="utf-8")
    loaded = load_app_config(config)
    assert "（≥120天）" in loaded[TAG_RULES].rule("lifecycle").kind.explain("沉睡", {"days": 150})
    assert loaded[TAG_RULES].rule("reactivation_potential").kind.explain("唤醒潜力", {"p90": 0.3}).startswith(
        "沉睡（120天未购）")
    assert loaded[LEADS].patterns["dormant_wakeup"].params["dormant_days"] == 120
    assert dormant_days_of(loaded[TAG_RULES]) == 120


def test_a_lead_pattern_with_its_own_dormancy_is_refused(tmp_path: Path) -> None:
    config = shipped_config(tmp_path)
    leads = config / "leads.yaml"
    text = leads.read_text(encoding="utf-8")
    leads.write_text(text.replace("params: {fresh_hours: 24}", "params: {dormant_days: 90, fresh_hours: 24}", 1),
                     encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_app_config(config)
    assert str(info.value).startswith(f"{leads}: line ")
    assert "pattern dormant_wakeup: dormant_days is the lifecycle's threshold" in str(info.value)
    assert "set it once, on the lifecycle rule in tag_rules.yaml (now 180)" in str(info.value)


async def test_scan_to_tags_in_wecom_end_to_end(stack: Any) -> None:
    stack.state.add_member("guide_sh01_a", "王小美")
    await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmTAGGED01", state="store_sh01"))
    await stack.settle()
    assert {"上海南京西路店", "新客"} <= wecom_tags(stack.sim, "wmTAGGED01")


async def test_rfm_quantile_mode_splits_at_the_median(deps: Deps, sim: Any) -> None:
    from bot.sqldialect import Dialect, SqlParams, connection
    from tagging.kinds.base import QueryContext
    from tagging.kinds.rfm import RfmRule

    spenders = []
    for days, amount in ((5, 100), (10, 200), (300, 5000), (400, 9000)):
        spenders.append(await craft_customer(sim.state, {"orders": [{"days_ago": days, "amount": amount}]}, NOW))
    rule = RfmRule({"mode": "quantile", "quantile": 0.5})
    ctx = QueryContext(Dialect.of(connection()), NOW, None, {})
    await rule.prepare(ctx)
    recency, frequency, monetary = ctx.run_values["rfm"]
    assert 10 <= recency <= 300 and frequency == 2 and 200 <= monetary <= 5000
    params = SqlParams(ctx.dialect)
    sql = rule.select(ctx, params)
    rows = {r["customer_id"]: r["tag"] for r in await connection().execute_query_dict(sql, params.values)}
    assert rows[spenders[0].id] == "一般发展客户"
    assert rows[spenders[3].id] == "重要挽留客户"


async def test_hourly_mark_tag_budget_stops_the_pass_and_leaves_the_rest_pending(
    make_settings: Callable[..., Settings], sim: Any
) -> None:
    """A first sync of a big corp must not blow WeCom's hourly limit: past the budget, customers
    keep their tags locally (pending) and WeCom sees no more calls until a later pass."""
    sim.state.add_member("guide_sh01_a", "王小美")
    settings = make_settings(wecom_api_base=sim.url, scrm_mark_tag_per_hour=3)
    async with open_deps(settings, clock=ManualClock(NOW)) as built:
        customers = [
            await craft_customer(sim.state, {"orders": [{"days_ago": 10, "amount": 199}]}, NOW) for _ in range(5)
        ]
        run = await retag_everyone(built)
        assert run.sync is not None and run.sync.mark_tag_calls == 3 and run.sync.hour_budget_spent
        tagged = [c for c in customers if "首购" in wecom_tags(sim, c.external_userid)]
        assert len(tagged) == 3
        calls = sim.state.count_calls("externalcontact/mark_tag")
        again = await push_pending(built)
        assert again.mark_tag_calls == 0 and again.hour_budget_spent
        assert sim.state.count_calls("externalcontact/mark_tag") == calls
        pending = await CustomerTag.filter(customer_id__in=[c.id for c in customers], in_wecom=False).count()
        assert pending >= 2, "the two customers past the budget keep their tags pending, not lost"
