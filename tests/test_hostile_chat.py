"""Roles, scope and the smaller hostile-input findings, as members meet them in chat and in WeCom:
a role set in chat survives a restart, a guide sees only customers they follow now, long jobs run
once at a time, templates are plain, board markdown shows names as written, keywords are literal."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from boards.kinds import METRICS
from boards.periods import to_date
from boards.report import render_boards
from boards.service import Board, Boards, Row
from bot.app import create_app
from bot.configfiles import ConfigError
from bot.crypto import CallbackCrypto
from bot.scheduler import Tick, fire
from bot.templates import load_templates
from config.settings import Settings
from customers.models import Customer, Guide, Role
from simulator.callbacks import CallbackSender
from tests.conftest import AES_KEY, CORP_ID, TOKEN, Stack, serve_app
from tests.support.chat import say
from tests.support.signing import post_signed
from tests.support.waiting import eventually

SHIPPED = Path(__file__).resolve().parent.parent / "config"

MEMBERS = {"guide_sh01_a": "王小美", "guide_sh01_b": "李晓", "operator01": "运营小赵", "admin01": "系统管理员"}


@pytest.fixture
def app_settings(make_settings: Callable[..., Settings], sim: Any) -> Settings:
    for userid, name in MEMBERS.items():
        sim.state.add_member(userid, name)
    return make_settings(wecom_api_base=sim.url, scrm_command_per_minute=30)


async def running(settings: Settings, sim: Any) -> AsyncIterator[Stack]:
    async with serve_app(create_app(settings)) as app, aiohttp.ClientSession() as http:
        sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http)
        yield Stack(app, sim, sender, http)


@pytest.fixture
async def chat(app_settings: Settings, sim: Any) -> AsyncIterator[Stack]:
    async for stack in running(app_settings, sim):
        yield stack


def texts(stack: Stack, userid: str) -> list[str]:
    return [str(m.content.get("content", "")) for m in stack.state.messages_to(userid)]


# --- roles: one source of truth --------------------------------------------------------------------


async def test_a_role_set_in_chat_survives_a_restart_and_org_yaml_still_seeds_the_others(
    app_settings: Settings, sim: Any
) -> None:
    async for stack in running(app_settings, sim):
        reply = await say(stack, "admin01", "角色 operator01 导购")
        assert "已将 运营小赵 的角色设为导购" in reply and "重启后保留" in reply
    async for stack in running(app_settings, sim):  # the next process start reads config/org.yaml again
        assert "仅限" in await say(stack, "operator01", "同步客户")  # still a guide: refused
        assert (await Guide.get(userid="operator01")).role == Role.GUIDE
        assert (await Guide.get(userid="manager_sh01")).role == Role.STORE_MANAGER  # seeded from org.yaml


# --- scope: guides see the customers they follow now ---------------------------------------------------


async def test_a_guide_no_longer_reads_a_customer_they_deleted_or_handed_over(chat: Stack) -> None:
    state = chat.state
    for external_userid in ("wmScope01", "wmScope02"):
        await chat.deliver(state.customer_scans_qr("guide_sh01_a", external_userid, state="store_sh01"))
    await chat.settle()
    await Customer.filter(external_userid="wmScope01").update(name="周小姐")
    await Customer.filter(external_userid="wmScope02").update(name="吴先生")
    assert "wmScope01" in await say(chat, "guide_sh01_a", "客户 周小姐")
    await chat.deliver(state.guide_deletes_customer("guide_sh01_a", "wmScope01"))
    await chat.settle()
    assert "没有找到客户" in await say(chat, "guide_sh01_a", "客户 周小姐")
    assert "没有找到客户" in await say(chat, "guide_sh01_a", "客户 wmScope01")
    assert "交接已提交" in await say(chat, "admin01", "交接 guide_sh01_a guide_sh01_b")
    chat.state.advance(24 * 3600 + 1)  # WeCom gives customers 24 h to refuse
    await fire(chat.deps, Tick("handover_check", every_s=600))
    await chat.settle()
    await eventually(lambda: any("交接完成" in t for t in texts(chat, "admin01")))
    # After the hand-over the old guide has no customer left to read; the taker reads him.
    assert "没有找到客户" in await say(chat, "guide_sh01_a", "客户 吴先生")
    assert "wmScope02" in await say(chat, "guide_sh01_b", "客户 吴先生")


# --- long jobs run once at a time ---------------------------------------------------------------------


async def test_a_second_customer_sync_while_one_runs_is_told_it_is_in_progress(chat: Stack) -> None:
    chat.state.faults.inject("externalcontact/get_follow_user_list", latency=1.5, count=1)  # a long sync
    for _ in range(3):
        await chat.deliver(chat.state.guide_sends_text("operator01", "同步客户"))
    await chat.settle()
    await eventually(lambda: any("客户同步完成" in t for t in texts(chat, "operator01")), within=15)
    told = texts(chat, "operator01")
    assert sum("已开始同步客户" in t for t in told) == 1
    assert sum("已在进行中" in t for t in told) == 2
    assert sum("客户同步完成" in t for t in told) == 1
    assert chat.state.count_calls("externalcontact/get_follow_user_list") == 1
    # Once it is done, the next one starts.
    assert "已开始同步客户" in await say(chat, "operator01", "同步客户")


# --- templates are plain {name} fields -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["{customer_name:>50000000}", "{customer_name!r}", "{customer_name.__class__}", "{customer_name[0]}",
     "{customer_name:{guide_name}}", "{0}", "{}"],
)
def test_templates_with_more_than_plain_fields_refuse_to_load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text(f'welcome_default:\n  kind: welcome\n  text: "您好{text}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_templates(path)
    assert str(path) in str(refused.value) and "welcome_default" in str(refused.value)


# --- board markdown shows names as written ---------------------------------------------------------


def test_member_names_cannot_inject_markdown_into_boards(chat: Stack) -> None:
    metric = METRICS["new_customers"]
    period = to_date("daily", datetime(2026, 3, 2, tzinfo=UTC), "Asia/Shanghai")
    evil = "**全店第一**</font>[点我](http://x.example)\n# 标题"
    guides = Board(metric, "guide", period, (Row(1, evil, 9.0, 0.0, 1, 1),))
    stores = Board(metric, "store", period, (Row(1, "上海店", 9.0, 0.0, 1),))
    markdown = render_boards(chat.deps.config.templates, Boards(period, stores, guides, ()))
    line = next(line for line in markdown.splitlines() if "全店第一" in line)
    assert "**全店第一**" not in line and "[点我](" not in line and line.count("</font>") == 1  # the arrow's
    assert "＊＊全店第一＊＊" in line and "\n# 标题" not in markdown


# --- keyword rules match the keyword itself ----------------------------------------------------------


@pytest.fixture
def wildcard_rules(tmp_path: Path) -> Path:
    """The shipped config plus a keyword rule an operator wrote for "满减%" promotions: keyword "%"."""
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    rules = target / "tag_rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("\n  - id: lifecycle\n", """
  - id: interest_percent
    description: 消息提到百分号（满减%）
    type: keyword
    group: 兴趣
    tag: 关注满减
    keywords: ["%"]
    examples:
      - given: {messages: [满减50%吗]}
        expect: [关注满减]

  - id: lifecycle
""", 1), encoding="utf-8")
    return target


async def test_a_keyword_made_of_a_like_wildcard_matches_only_itself(
    make_settings: Callable[..., Settings], sim: Any, wildcard_rules: Path
) -> None:
    sim.state.add_member("guide_sh01_a", "王小美")
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=wildcard_rules)
    async for stack in running(settings, sim):
        for external_userid in ("wmLike01", "wmLike02"):
            await stack.deliver(sim.state.customer_scans_qr("guide_sh01_a", external_userid, state="store_sh01"))
        await stack.settle()
        sent = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        messages = [{"msg_id": "like-1", "from": "wmLike01", "external_userid": "wmLike01", "content": "你好，在吗",
                     "sent_at": sent},
                    {"msg_id": "like-2", "from": "wmLike02", "external_userid": "wmLike02", "content": "满减50%吗",
                     "sent_at": sent}]
        status, _ = await post_signed(stack, "/intake/chat-archive", {"messages": messages})
        assert status == 202
        await stack.settle()

        def tags_of(external_userid: str) -> set[str]:
            return {sim.state.tags[t].name for t in sim.state.tag_ids_of("guide_sh01_a", external_userid)}

        await eventually(lambda: "关注满减" in tags_of("wmLike02"))
        assert "关注满减" not in tags_of("wmLike01")
