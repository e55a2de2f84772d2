"""SOP playbooks: triggers, audience, one task per occurrence, the guide's day, closing, escalation,
holdout, reports, and playbook files that refuse to load — on a moved clock, against the simulator."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot.app import create_app, open_deps
from bot.clock import ManualClock
from bot.configfiles import ConfigError
from bot.crypto import CallbackCrypto
from bot.reload import reload_config
from config.settings import Settings
from customers.config import ORG
from customers.models import Customer, CustomerTag, Guide, Relationship, Tag, TagGroup, TagSource
from customers.orders import OrderIn, OrderLine, record_orders
from simulator.callbacks import CallbackSender
from sop import chat
from sop.config import PLAYBOOKS, load_playbooks
from sop.delivery import notice, send_escalations, send_reminders
from sop.engine import in_holdout, sweep
from sop.models import SopTask, TaskStatus
from sop.report import execution_rate, lift
from sop.service import run_tick, sweep_customers
from tests.conftest import AES_KEY, BACKEND, CORP_ID, TOKEN, serve_app
from tests.support.waiting import eventually

SHIPPED = Path(__file__).resolve().parent.parent / "config"
# Monday 2 March 2026, 08:00 in Shanghai.
MONDAY_8AM = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """March ``day`` 2026 at hour:minute in Shanghai, as UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def no_holdout(config_dir: Path) -> None:
    for path in (config_dir / "sop").glob("*.yaml"):
        path.write_text(path.read_text(encoding="utf-8").replace("holdout: 10%", "holdout: 0%"), encoding="utf-8")


@pytest.fixture
async def sop(make_settings: Callable[..., Settings], sim: Any, config_dir: Path) -> AsyncIterator[Any]:
    """Deps on a manual clock (no worker): the services are called as the handlers would."""
    no_holdout(config_dir)
    clock = ManualClock(MONDAY_8AM)
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=config_dir)
    for userid, name in (("guide_sh01_a", "王小美"), ("guide_sh01_b", "李晓"), ("manager_sh01", "张店长")):
        sim.state.add_member(userid, name)
    async with open_deps(settings, clock=clock) as deps:
        yield deps


_n = iter(range(1000, 100000))


async def customer(
    *, added: datetime, guide: str = "guide_sh01_a", name: str = "", customer_id: int | None = None, **fields: Any
) -> Customer:
    n = next(_n)
    created = await Customer.create(
        id=customer_id or n, external_userid=f"wmSOP{n}", name=name or f"客户{n}", first_seen_at=added, **fields
    )
    member = await Guide.get(userid=guide)
    await Relationship.create(guide=member, customer=created, created_at=added)
    return created


async def tasks(**filters: Any) -> list[SopTask]:
    return await SopTask.filter(**filters).order_by("id")


async def test_customer_added_by_callback_gets_the_day0_task_once(
    make_settings: Callable[..., Settings], sim: Any, config_dir: Path
) -> None:
    no_holdout(config_dir)
    sim.state.add_member("guide_sh01_a", "王小美")
    clock = ManualClock()
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=config_dir, scrm_quiet_hours="")
    async with serve_app(create_app(settings, clock=clock)) as app, aiohttp.ClientSession() as http:
        sender = CallbackSender(
            CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http
        )
        # The add (WeCom's time) is in the sweep's past: set once the app is up, since a start on a
        # busy machine can take longer than the margin.
        clock.set(datetime.now(UTC) + timedelta(seconds=5))
        await sender.send(sim.state.customer_scans_qr("guide_sh01_a", "wmSopNew1", state="store_sh01", name="周小姐"))
        await eventually(lambda: SopTask.filter(playbook="new_customer").exists())
        for _ in range(3):
            await run_tick(app.deps)
            await sweep_customers(app.deps, [(await Customer.get(external_userid="wmSopNew1")).id])
        found = await tasks(playbook="new_customer")
        assert [(t.step, t.status) for t in found] == [("d0_hello", TaskStatus.OPEN)]
        assert "周小姐" in found[0].suggested_text and "王小美" in found[0].suggested_text
        assert "周小姐" in await chat.tasks_reply(app.deps, "guide_sh01_a")


async def test_each_trigger_creates_its_task_when_due(sop: Any) -> None:
    clock: ManualClock = sop.clock
    new = await customer(added=local(1, 15), name="新客")
    bought = await customer(added=local(1, 9) - timedelta(days=300), name="老客", birthday=date(1990, 3, 4))
    await record_orders(
        [
            OrderIn(
                "O-1",
                Decimal("500"),
                local(1, 12),
                bought.external_userid,
                lines=(OrderLine("SKU-9", "保湿面霜", "面霜", 1, Decimal("500")),),
            )
        ]
    )
    await customer(added=local(1, 9) - timedelta(days=10), name="睡客")
    sleeper = await Customer.get(name="睡客")
    group = await TagGroup.create(wecom_id="g-life", name="生命周期")
    dormant = await Tag.create(wecom_id="t-sleep", group=group, name="唤醒潜力")  # the dormant likely to return
    guide = await Guide.get(userid="guide_sh01_a")
    clock.set(local(2, 8))
    await run_tick(sop)  # first sweep: the last 24 h
    entered = await CustomerTag.create(customer=sleeper, guide=guide, tag=dormant, source=TagSource.RULE)
    await CustomerTag.filter(id=entered.id).update(created_at=local(2, 9))  # the nightly re-tag's stamp
    clock.set(local(2, 10, 1))
    await run_tick(sop)
    assert {(t.playbook, t.step) for t in await tasks(customer=new)} == {
        ("new_customer", "d0_hello"),
        ("new_customer", "d1_needs"),
    }
    clock.set(local(4, 11, 1))
    await run_tick(sop)
    assert ("post_purchase", "d3_usage") in {(t.playbook, t.step) for t in await tasks(customer=bought)}
    assert ("birthday", "day_of") in {(t.playbook, t.step) for t in await tasks(customer=bought)}
    sleeper_tasks = await tasks(customer=sleeper, playbook="dormant_reactivation")
    assert [t.step for t in sleeper_tasks] == ["d0_coupon"]
    assert "回归券满300减50" in (await SopTask.get(id=sleeper_tasks[0].id)).suggested_text


async def test_replenishment_and_calendar_with_audience(sop: Any) -> None:
    clock: ManualClock = sop.clock
    regular = await customer(added=local(1, 9) - timedelta(days=400), name="常客")
    other = await customer(added=local(1, 9) - timedelta(days=400), name="路人")
    for who in (regular, other):  # bought 面霜 53 days before 8 March (60-day cycle, 7 days ahead)
        await record_orders(
            [
                OrderIn(
                    f"R-{who.id}",
                    Decimal("300"),
                    local(8, 12) - timedelta(days=53),
                    who.external_userid,
                    lines=(OrderLine("SKU-1", "面霜A", "面霜", 1, Decimal("300")),),
                )
            ]
        )
    await record_orders(
        [
            OrderIn(
                "R-later",
                Decimal("300"),
                local(8, 12) - timedelta(days=20),
                other.external_userid,
                lines=(OrderLine("SKU-1", "面霜A", "面霜", 1, Decimal("300")),),
            )
        ]
    )
    group = await TagGroup.create(wecom_id="g-life", name="生命周期")
    active = await Tag.create(wecom_id="t-active", group=group, name="活跃")
    await CustomerTag.create(
        customer=regular, guide=await Guide.get(userid="guide_sh01_a"), tag=active, source=TagSource.RULE
    )
    clock.set(local(8, 11))  # 妇女节 (8 March): holiday greetings at 09:00, replenishment at 10:30
    await run_tick(sop)
    assert [t.detail for t in await tasks(customer=regular, playbook="replenishment")] == ["面霜"]
    assert await tasks(customer=other, playbook="replenishment") == []  # bought again since
    greetings = await tasks(playbook="holiday_greetings")
    assert [(t.customer_id, t.detail) for t in greetings] == [(regular.id, "妇女节")]  # audience: 活跃 only
    assert greetings[0].prepared_at is not None
    assert sop_calls(sop, "externalcontact/add_msg_template") == 1


def sop_calls(deps: Any, api: str) -> int:
    return 0 if deps is None else _sim_state(deps).count_calls(api)


_SIM: dict[str, Any] = {}


def _sim_state(deps: Any) -> Any:
    return _SIM["state"]


@pytest.fixture(autouse=True)
def _remember_sim(sim: Any) -> None:
    _SIM["state"] = sim.state


async def test_deleted_guide_and_paused_playbook_get_no_tasks(sop: Any) -> None:
    gone = await customer(added=local(2, 7), name="已删")
    await Relationship.filter(customer=gone).update(deleted_by_customer_at=local(2, 7, 30))
    paused = await customer(added=local(2, 7, 10), name="暂停")
    assert "已暂停" in await chat.pause_reply(sop, "新客旅程", by="operator01")
    assert "⏸ 新客旅程" in await chat.playbooks_reply(sop)
    await run_tick(sop)
    assert await tasks(customer=gone) == [] and await tasks(customer=paused) == []
    assert "已恢复" in await chat.resume_reply(sop, "新客旅程")
    assert "没有名为" in await chat.pause_reply(sop, "不存在")
    await sweep_customers(sop, [paused.id])
    assert [t.step for t in await tasks(customer=paused)] == ["d0_hello"]


@pytest.mark.skipif(BACKEND == "embedded", reason="engines in several processes share only a real Redis")
async def test_two_engines_create_each_task_once(
    make_settings: Callable[..., Settings], sim: Any, config_dir: Path
) -> None:
    no_holdout(config_dir)
    clock = ManualClock(local(2, 7))
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=config_dir)
    async with open_deps(settings, clock=clock) as first, open_deps(settings, clock=clock) as second:
        added = [await customer(added=local(1, 12, i)) for i in range(20)]
        clock.set(local(2, 10, 5))
        results = await asyncio.gather(run_tick(first), run_tick(second), run_tick(first))
        assert sum(r is None for r in results) >= 1  # the lease let one engine sweep at a time
        # Without the lease, the unique key alone still holds: two sweeps at once, same window.
        playbooks = first.config[PLAYBOOKS]
        await asyncio.gather(
            *(sweep(playbooks, since=local(1, 0), until=local(2, 10, 5), tz="Asia/Shanghai") for _ in range(2))
        )
        assert await SopTask.filter(playbook="new_customer").count() == 2 * len(added)  # d0 and d1 each


async def test_quiet_hours_hold_the_digest_and_the_card_closes_a_task(
    make_settings: Callable[..., Settings], sim: Any, config_dir: Path
) -> None:
    no_holdout(config_dir)
    sim.state.add_member("guide_sh01_a", "王小美")
    clock = ManualClock(local(2, 7))
    settings = make_settings(
        wecom_api_base=sim.url,
        scrm_config_dir=config_dir,
        scrm_quiet_hours="21:00-08:00",
    )
    async with serve_app(create_app(settings, clock=clock)) as app, aiohttp.ClientSession() as http:
        deps = app.deps
        rich = await customer(added=local(2, 6), name="大客户", total_spent=Decimal("9000"))
        await customer(added=local(2, 6, 30), name="小客户")
        await run_tick(deps)
        assert await notice(deps, "digest") is None  # 07:00 is quiet
        assert sim.state.messages_to("guide_sh01_a") == []
        clock.set(local(2, 8, 1))
        await run_tick(deps)
        await run_tick(deps)
        cards = [m for m in sim.state.messages_to("guide_sh01_a") if m.msgtype == "template_card"]
        assert len(cards) == 1
        card = cards[0].content
        assert card["main_title"]["title"] == "今日待办 2 项"
        assert card["horizontal_content_list"][0]["keyname"].endswith("大客户")  # most valuable first
        first_key = card["button_list"][0]["key"]
        task_id = int(first_key.removeprefix("sop:done:"))
        assert (await SopTask.get(id=task_id)).customer_id == rich.id
        # Our clock is moved, WeCom's is not: the click is signed at our time, as a fresh callback is.
        sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http,
                                timestamp_clock=deps.clock.timestamp)
        await sender.send(sim.state.guide_clicks_card("guide_sh01_a", card["task_id"], first_key))
        await sender.send(sim.state.guide_clicks_card("guide_sh01_a", card["task_id"], "lead:other:1"))
        await eventually(lambda: SopTask.filter(id=task_id, status=TaskStatus.DONE).exists())
        task = await SopTask.get(id=task_id)
        assert task.done_by == "button"
        await eventually(
            lambda: any("已完成" in str(m.content.get("content", "")) for m in sim.state.messages_to("guide_sh01_a"))
        )
        assert "您有 1 项待办" in await chat.tasks_reply(deps, "guide_sh01_a")


async def test_closing_by_chat_and_by_goal(sop: Any) -> None:
    by_chat = await customer(added=local(2, 7), name="聊天")
    by_order = await customer(added=local(2, 7, 5), name="下单")
    await run_tick(sop)
    chat_task = (await tasks(customer=by_chat))[0]
    assert "找不到" in await chat.complete_by_chat(sop, "guide_sh01_b", str(chat_task.id))  # not theirs
    assert "请发送" in await chat.complete_by_chat(sop, "guide_sh01_a", "abc")
    assert "已完成" in await chat.complete_by_chat(sop, "guide_sh01_a", f"#{chat_task.id}")
    assert "已经完成过" in await chat.complete_by_chat(sop, "guide_sh01_a", str(chat_task.id))
    sop.clock.set(local(2, 12))
    await record_orders([OrderIn("G-1", Decimal("99"), local(2, 11), by_order.external_userid)])
    await sweep_customers(sop, [by_order.id])
    order_task = (await tasks(customer=by_order))[0]
    assert (order_task.status, order_task.done_by) == (TaskStatus.DONE, "goal")
    rows = {r.key: r for r in await execution_rate(local(1, 9), local(3, 9), "guide")}
    assert (rows["王小美"].due, rows["王小美"].done, rows["王小美"].on_time) == (2, 2, 2)


async def test_overdue_tasks_get_one_reminder_and_one_escalation_summary(sop: Any) -> None:
    await customer(added=local(2, 7), name="逾期甲")
    await customer(added=local(2, 7, 1), name="逾期乙")
    await run_tick(sop)
    sop.clock.set(local(2, 17))
    assert await send_reminders(sop) == 1
    assert await send_reminders(sop) == 0
    reminders = sim_texts("guide_sh01_a")
    assert len(reminders) == 1 and "逾期甲" in reminders[0] and "逾期乙" in reminders[0]
    sop.clock.set(local(3, 6))
    assert await send_escalations(sop) == 0  # due at 07:00 yesterday: not yet a day overdue
    sop.clock.set(local(4, 10))
    assert await send_escalations(sop) == 1
    assert await send_escalations(sop) == 0
    summary = sim_texts("manager_sh01")
    assert len(summary) == 1 and "王小美：2 项" in summary[0]


def sim_texts(userid: str) -> list[str]:
    return [str(m.content.get("content", "")) for m in _SIM["state"].messages_to(userid) if m.msgtype == "text"]


async def test_holdout_is_stable_excluded_and_measured(
    make_settings: Callable[..., Settings], sim: Any, config_dir: Path
) -> None:
    clock = ManualClock(local(2, 7))
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=config_dir)  # shipped 10% holdouts
    sim.state.add_member("guide_sh01_a", "王小美")
    async with open_deps(settings, clock=clock) as deps:
        playbook = deps.config[PLAYBOOKS].get("new_customer")
        assert playbook is not None and playbook.holdout_pct == 10
        assert [in_holdout(playbook, i) for i in range(1, 300)] == [in_holdout(playbook, i) for i in range(1, 300)]
        assert 15 <= sum(in_holdout(playbook, i) for i in range(1, 300)) <= 45
        people = [await customer(added=local(2, 6, i % 60), customer_id=5000 + i) for i in range(200)]
        await run_tick(deps)
        found = {t.customer_id: t.status for t in await tasks(playbook="new_customer", step="d0_hello")}
        assert len(found) == len(people)
        for person in people:
            assert found[person.id] == (TaskStatus.CONTROL if in_holdout(playbook, person.id) else TaskStatus.OPEN)
        listed = await chat.tasks_reply(deps, "guide_sh01_a")
        control = next(p for p in people if in_holdout(playbook, p.id))
        assert control.name not in listed
        # Every other treated customer and no control customer orders within the window.
        treated = [p for p in people if not in_holdout(playbook, p.id)]
        await record_orders(
            [OrderIn(f"L-{p.id}", Decimal("100"), local(3, 12), p.external_userid) for p in treated[::2]]
        )
        clock.set(local(5, 9))
        row = next(r for r in await lift(deps.config[PLAYBOOKS], clock.now()) if r.playbook == "new_customer")
        assert row.treated == len(treated) and row.treated_converted == len(treated[::2]) and row.control_converted == 0
        low, high = row.interval() or (0, 0)
        assert 0 < low < row.lift < high


async def test_a_broken_playbook_refuses_to_load_and_a_broken_reload_keeps_the_running_set(
    sop: Any, config_dir: Path
) -> None:
    running = sop.config[PLAYBOOKS]
    path = config_dir / "sop" / "birthday.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("type: date_field", "type: moon_phase"), encoding="utf-8")
    with pytest.raises(ConfigError,
                       match=r"birthday\.yaml: line 2: playbook 'birthday': unknown SOP trigger 'moon_phase'"):
        load_playbooks(config_dir, sop.config.templates, sop.config[ORG])
    with pytest.raises(ConfigError, match="moon_phase"):  # 重载配置: a broken file changes nothing
        await reload_config(sop)
    assert sop.config[PLAYBOOKS] is running
    path.write_text(
        path.read_text(encoding="utf-8")
        .replace("type: moon_phase", "type: date_field")
        .replace("template: sop_birthday", "template: nope"),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"line \d+: step 'day_of': template 'nope' is not in templates.yaml"):
        load_playbooks(config_dir, sop.config.templates, sop.config[ORG])
    path.write_text(
        path.read_text(encoding="utf-8")
        .replace("template: nope", "template: sop_birthday")
        .replace("name: 生日关怀", "name: 生日祝福"),
        encoding="utf-8",
    )
    await reload_config(sop)
    assert sop.config[PLAYBOOKS] is not running and sop.config[PLAYBOOKS].get("生日祝福") is not None


async def test_a_guide_reads_a_tasks_due_time_in_the_stores_time_zone(sop: Any) -> None:
    # 03:00 UTC is 11:00 in Shanghai; SQLite hands the time back as UTC text, PostgreSQL as a datetime.
    clock: ManualClock = sop.clock
    added = await customer(added=local(2, 9), name="时区客")
    await SopTask.create(
        playbook="new_customer", step="d0_hello", customer_id=added.id, guide=await Guide.get(userid="guide_sh01_a"),
        occurrence="tz", due_at=datetime(2026, 3, 2, 3, 0, tzinfo=UTC), created_at=clock.now(), reason="新客",
    )
    clock.set(local(2, 12))
    reply = await chat.tasks_reply(sop, "guide_sh01_a")
    assert "时区客" in reply and "03-02 11:00" in reply and "03:00" not in reply
