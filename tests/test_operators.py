"""Operators in chat: commands by role, forgiving parsing, audit, rate limit, hand-over."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from bot.app import create_app
from bot.commands import Command, table_of, tokenize
from bot.crypto import CallbackCrypto
from bot.deps import Deps
from bot.dispatch import Router, feature_routers
from bot.models.commands import CommandAudit
from bot.scheduler import Tick, fire
from config.settings import Settings
from customers.models import Customer, Guide, Relationship, Role
from operators.models import HandoverItem, RobotSubscription
from simulator.callbacks import CallbackSender
from tests.conftest import AES_KEY, CORP_ID, TOKEN, Stack, serve_app
from tests.support.chat import say
from tests.support.facts import craft_customer
from tests.support.waiting import eventually

MEMBERS = {"guide_sh01_a": "王小美", "guide_sh01_b": "李晓", "manager_sh01": "张店长", "operator01": "运营小赵",
           "admin01": "系统管理员"}


@asynccontextmanager
async def running(make_settings: Callable[..., Settings], sim: Any,
                  routers: Sequence[Router] | None = None) -> AsyncIterator[Stack]:
    """The app and the simulator, with a group robot named HQ群 and no pause between transfer calls."""
    for userid, name in MEMBERS.items():
        sim.state.add_member(userid, name)
    settings = make_settings(wecom_api_base=sim.url, scrm_robot_keys="HQ群=hq-robot-key", scrm_transfer_pause_s=0,
                             scrm_command_per_minute=30)
    async with serve_app(create_app(settings, routers=routers)) as app, aiohttp.ClientSession() as http:
        sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http)
        yield Stack(app, sim, sender, http)


@pytest.fixture
async def ops(make_settings: Callable[..., Settings], sim: Any) -> AsyncIterator[Stack]:
    async with running(make_settings, sim) as stack:
        yield stack


def told(stack: Stack, userid: str, words: str) -> bool:
    return any(words in str(m.content.get("content")) for m in stack.state.messages_to(userid))


# --- parsing -----------------------------------------------------------------------------------------


def parse(text: str) -> tuple[Command | None, list[str]]:
    return table_of(tuple(feature_routers())).parse(text)



@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("帮助", "帮助", []),
        ("  HELP ", "帮助", []),
        ("／帮助", "帮助", []),
        ("客户　王小美", "客户", ["王小美"]),  # ideographic space
        ("客户王小美", "客户", ["王小美"]),  # glued
        ("客户 “周 小姐”", "客户", ["周 小姐"]),  # Chinese quotes keep the space
        ("客户「wmABC」", "客户", ["wmABC"]),
        ("排行，周", "排行", ["周"]),  # full-width comma
        ("交接：guide_a、guide_b", "交接", ["guide_a", "guide_b"]),
        ("ｈａｎｄｏｖｅｒ  a b", "交接", ["a", "b"]),  # full-width letters
    ],
)
def test_commands_are_parsed_forgivingly(text: str, name: str, args: list[str]) -> None:
    command, words = parse(text)
    assert command is not None and command.name == name
    assert words == args


def test_unknown_words_are_no_command() -> None:
    assert parse("你好呀")[0] is None
    assert parse("helpme")[0] is None
    assert tokenize('"a b" c') == ["a b", "c"]


# --- commands by role ----------------------------------------------------------------------------------

OPERATOR_ONLY = ["标签规则", "重载标签规则", "重算标签", "同步客户", "排行 周", "交接 guide_sh01_a guide_sh01_b"]
ADMIN_ONLY = ["角色 guide_sh01_b 店长", "订阅排行 HQ群"]


@pytest.mark.parametrize("text", OPERATOR_ONLY + ADMIN_ONLY + ["门店"])
async def test_a_guide_is_refused_what_their_role_may_not_use(ops: Stack, text: str) -> None:
    answer = await say(ops, "guide_sh01_a", text)
    assert "仅限" in answer and "你的角色是导购" in answer
    audit = await CommandAudit.get(userid="guide_sh01_a")
    assert (audit.result, audit.role) == ("refused", "guide")


@pytest.mark.parametrize("text", ADMIN_ONLY)
async def test_an_operator_is_refused_admin_commands(ops: Stack, text: str) -> None:
    assert "仅限管理员" in await say(ops, "operator01", text)


async def test_help_lists_what_the_role_may_use(ops: Stack) -> None:
    guide = await say(ops, "guide_sh01_a", "帮助")
    operator = await say(ops, "operator01", "help")
    assert "客户 <名字|id>" in guide and "交接" not in guide and "角色" not in guide
    assert "交接 <离职导购> <接手导购>" in operator and "重算标签" in operator and "角色" not in operator
    assert "角色 <成员> <角色>" in await say(ops, "admin01", "帮助")


async def test_customer_profile_shows_channel_tags_with_reasons_and_last_purchase(ops: Stack) -> None:
    deps = ops.deps
    now = deps.clock.now()
    customer = await craft_customer(ops.state, {"orders": [{"amount": 300, "days_ago": 200}]}, now,
                                    external_userid="wmProfile01")
    await Customer.filter(id=customer.id).update(name="周小姐")
    from tagging.service import retag_everyone

    await retag_everyone(deps)
    answer = await say(ops, "guide_sh01_a", "客户 周小姐")
    assert "wmProfile01" in answer and "最近购买" in answer and "累计 1 单" in answer
    assert "沉睡" in answer and "规则" in answer  # the tag with its reason
    # By external_userid too; a guide of another store does not see her.
    assert "周小姐" in await say(ops, "guide_sh01_a", "客户 wmProfile01")
    ops.state.add_member("guide_hz01_a", "陈静")
    assert "没有找到客户" in await say(ops, "guide_hz01_a", "客户 周小姐")


async def test_unknown_command_gets_a_hint_and_bad_arguments_the_usage(ops: Stack) -> None:
    assert "发送「帮助」" in await say(ops, "guide_sh01_a", "天气怎么样")
    assert "用法：交接 <离职导购> <接手导购>" in await say(ops, "operator01", "交接 guide_sh01_a")
    assert "只能是" in await say(ops, "operator01", "排行 年")
    results = await CommandAudit.all().order_by("id").values_list("userid", "result")
    assert results == [("guide_sh01_a", "unknown"), ("operator01", "bad_args"), ("operator01", "bad_args")]


async def test_rank_store_and_rules_for_their_roles(ops: Stack) -> None:
    assert "第 " in await say(ops, "guide_sh01_a", "我的排名")
    store = await say(ops, "manager_sh01", "门店")
    assert "上海南京西路店" in store and "新增客户" in store and "唤醒沉睡" in store
    assert "标签规则（共" in await say(ops, "operator01", "标签规则")
    assert "已重新加载" in await say(ops, "operator01", "重载标签规则")
    assert "排行日榜" in await say(ops, "operator01", "排行")


async def test_admin_sets_a_role_and_the_first_admin_comes_from_config(
    make_settings: Callable[..., Settings], sim: Any
) -> None:
    for userid, name in MEMBERS.items():
        sim.state.add_member(userid, name)
    settings = make_settings(wecom_api_base=sim.url, scrm_admin_userids="guide_sh01_b")
    async with serve_app(create_app(settings)) as app, aiohttp.ClientSession() as http:
        sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http)
        stack = Stack(app, sim, sender, http)
        assert "已将 王小美 的角色设为店长" in await say(stack, "guide_sh01_b", "角色 王小美 店长")
        assert (await Guide.get(userid="guide_sh01_a")).role == Role.STORE_MANAGER
        assert "没有名为「外部群」" in await say(stack, "guide_sh01_b", "订阅排行 外部群")


async def test_subscribing_a_robot_is_persisted_once(ops: Stack) -> None:
    assert "已订阅" in await say(ops, "admin01", "订阅排行 HQ群")
    assert "已经订阅过" in await say(ops, "admin01", "订阅排行 “HQ群”")
    assert await RobotSubscription.filter(robot="HQ群").count() == 1


async def test_retag_and_sync_run_in_the_background_and_report(ops: Stack) -> None:
    started = await say(ops, "operator01", "重算标签")
    assert "已开始重算" in started
    await eventually(lambda: told(ops, "operator01", "重算完成"))
    ops.state.relate("guide_sh01_a", ops.state.add_external_contact("wmSync01", "新客").external_userid)
    assert "已开始同步客户" in await say(ops, "operator01", "同步客户")
    await eventually(lambda: any("客户同步完成" in str(m.content.get("content"))
                                 for m in ops.state.messages_to("operator01")))
    assert await Customer.filter(external_userid="wmSync01").exists()


async def test_a_redelivered_command_runs_and_answers_once(ops: Stack) -> None:
    xml = ops.state.guide_sends_text("operator01", "重算标签")
    for _ in range(2):
        await ops.deliver(xml)
    await ops.settle()
    await eventually(lambda: told(ops, "operator01", "重算完成"))
    texts = [str(m.content.get("content")) for m in ops.state.messages_to("operator01")]
    assert sum("已开始重算" in t for t in texts) == 1 and sum("重算完成" in t for t in texts) == 1


async def test_rate_limit_answers_once_then_stays_quiet(
    make_settings: Callable[..., Settings], sim: Any
) -> None:
    sim.state.add_member("guide_sh01_a", "王小美")
    settings = make_settings(wecom_api_base=sim.url, scrm_command_per_minute=2)
    async with serve_app(create_app(settings)) as app, aiohttp.ClientSession() as http:
        sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http)
        stack = Stack(app, sim, sender, http)
        for _ in range(4):
            await stack.deliver(sim.state.guide_sends_text("guide_sh01_a", "帮助"))
        await stack.settle()
        texts = [str(m.content.get("content")) for m in sim.state.messages_to("guide_sh01_a")]
        assert sum("操作太频繁" in t for t in texts) == 1 and len(texts) == 3
        assert await CommandAudit.filter(result="rate_limited").count() == 2


# --- hand-over -----------------------------------------------------------------------------------------


async def test_handover_moves_customers_and_reports_moved_and_failed(
    make_settings: Callable[..., Settings], sim: Any
) -> None:
    # Another feature's records move with the customers: a hook on its router.
    tasks = Router("tasks")
    moved_by_hook: list[tuple[str, str, Sequence[str]]] = []

    @tasks.on_handover("测试待办")
    async def move_tasks(deps: Deps, old: str, new: str, external_userids: Sequence[str]) -> int:
        moved_by_hook.append((old, new, list(external_userids)))
        return len(external_userids)

    async with running(make_settings, sim, routers=[*feature_routers(), tasks]) as ops:
        deps: Deps = ops.deps
        now = deps.clock.now()
        for i in range(3):
            await craft_customer(ops.state, {}, now, external_userid=f"wmHand0{i}")
        ops.state.refuse_transfer("wmHand02")
        answer = await say(ops, "operator01", "交接 王小美 李晓")
        assert "等待客户确认 3 位" in answer
        assert ops.state.count_calls("externalcontact/transfer_customer") == 1
        ops.state.advance(24 * 3600 + 1)  # WeCom gives customers 24 h to refuse
        await fire(deps, Tick("handover_check", every_s=600))
        await ops.settle()
        await eventually(lambda: any("交接完成" in str(m.content.get("content"))
                                     for m in ops.state.messages_to("operator01")))
        report = str(ops.state.messages_to("operator01")[-1].content["content"])
        assert "已转移 2 位，失败 1 位" in report and "客户拒绝 1" in report and "测试待办已转给接手导购：2" in report
        assert moved_by_hook == [("guide_sh01_a", "guide_sh01_b", ["wmHand00", "wmHand01"])]
        taker = await Relationship.filter(guide__userid="guide_sh01_b", deleted_by_guide_at__isnull=True
                                          ).values_list("customer__external_userid", flat=True)
        assert sorted(taker) == ["wmHand00", "wmHand01"]
        giver_left = await Relationship.filter(guide__userid="guide_sh01_a", deleted_by_guide_at__isnull=True
                                               ).values_list("customer__external_userid", flat=True)
        assert giver_left == ["wmHand02"]
        assert await HandoverItem.filter(status="failed", reason="customer_refused").count() == 1


async def test_a_customer_handed_over_to_another_store_is_theirs_in_chat(ops: Stack) -> None:
    """The old store's manager no longer reads the profile; the new store's manager and guide do."""
    deps: Deps = ops.deps
    ops.state.add_member("guide_hz01_a", "陈静")
    ops.state.add_member("manager_hz01", "刘店长")
    await craft_customer(ops.state, {}, deps.clock.now(), external_userid="wmAcross01", name="郑女士")
    assert "wmAcross01" in await say(ops, "manager_sh01", "客户 郑女士")
    assert "没有找到客户" in await say(ops, "manager_hz01", "客户 wmAcross01")
    assert "等待客户确认 1 位" in await say(ops, "operator01", "交接 王小美 陈静")
    ops.state.advance(24 * 3600 + 1)
    await fire(deps, Tick("handover_check", every_s=600))
    await ops.settle()
    await eventually(lambda: told(ops, "operator01", "交接完成"))
    for userid in ("manager_sh01", "guide_sh01_a"):
        answer = await say(ops, userid, "客户 wmAcross01")
        assert "没有找到客户" in answer and "郑女士" not in answer
        assert "没有找到客户" in await say(ops, userid, "客户 郑女士")
    assert "wmAcross01" in await say(ops, "manager_hz01", "客户 郑女士")
    assert "wmAcross01" in await say(ops, "guide_hz01_a", "客户 wmAcross01")
    assert "wmAcross01" in await say(ops, "operator01", "客户 wmAcross01")


async def test_handover_of_a_resigned_guide_uses_the_resigned_api_and_transfer_fail_marks_failure(
    ops: Stack,
) -> None:
    now = ops.deps.clock.now()
    await craft_customer(ops.state, {}, now, external_userid="wmGone01")
    ops.state.resign_member("guide_sh01_a")
    ops.state.refuse_transfer("wmGone01", "customer_limit_exceed")
    assert "等待客户确认 1 位" in await say(ops, "operator01", "交接 guide_sh01_a guide_sh01_b")
    assert ops.state.count_calls("externalcontact/resigned/transfer_customer") == 1
    # WeCom's transfer_fail callback arrives before any result is read.
    await ops.deps.wecom.transfer_result("guide_sh01_a", "guide_sh01_b", resigned=True)
    for xml in ops.state.drain_outbox():
        await ops.deliver(xml)
    await ops.settle()
    item = await HandoverItem.get(external_userid="wmGone01")
    assert (item.status, item.reason) == ("failed", "customer_limit_exceed")


async def test_handover_refuses_a_guide_without_customers(ops: Stack) -> None:
    assert "没有待交接的客户" in await say(ops, "operator01", "交接 李晓 王小美")
    assert ops.state.count_calls("externalcontact/transfer_customer") == 0


