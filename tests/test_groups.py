"""Customer groups: group codes made from WeCom join ways, one per store; customers joining through
them attributed to code and store; full groups rolled over so a code never lists a full group.

A corp of 2 stores (南京西路店 d11, 湖滨店 d12), each with a manager who owns the store's groups and
3 guides; org.yaml says only where the stores are and who the operator is.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from boards.kinds import compute
from bot.app import create_app
from bot.configfiles import ConfigError
from bot.crypto import CallbackCrypto
from bot.feature import attributes
from bot.scheduler import fire
from config.settings import Settings
from customers.models import Store
from groups.config import load_groups
from groups.delivery import run_pushes
from groups.models import GroupCode, GroupCodeChat, GroupJoin
from groups.report import daily_lines, sync_stats
from groups.service import store_code_state
from orgsync.service import sync_org
from simulator import groupjoins as simulator_groupjoins
from simulator.addressbook import add_department, seed_member
from simulator.callbacks import CallbackSender
from simulator.groupjoins import customer_joins_via_way, owner_creates_group
from simulator.models import ChatMember
from simulator.state import SimulatorState
from tests.conftest import AES_KEY, CORP_ID, TOKEN, Stack, serve_app, volume
from tests.test_org_channels import say, scrm

REPO = Path(__file__).resolve().parent.parent
FULL_AT = 190
ORG_YAML = """\
store_root: 门店
members:
  - {userid: ops_a, role: operator}
"""


def build_corp(state: SimulatorState) -> None:
    add_department(state, 2, "门店")
    add_department(state, 11, "南京西路店", parentid=2)
    add_department(state, 12, "湖滨店", parentid=2)
    add_department(state, 3, "运营部")
    for department, prefix in ((11, "nj"), (12, "hb")):
        seed_member(state, f"{prefix}_mgr", f"{prefix}店长", [department], leader=True)
        for i in range(3):
            seed_member(state, f"{prefix}_g{i}", f"{prefix}导购{i}", [department])
    seed_member(state, "ops_a", "运营甲", [3])
    # Each manager made the store's first member group in the client before the product ran.
    state.add_group_chat("nj_mgr", "南京西路店会员1群")
    state.add_group_chat("hb_mgr", "湖滨店会员1群")


@pytest.fixture
def groups_config(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    (config / "org.yaml").write_text(ORG_YAML, encoding="utf-8")
    # This corp's own org.yaml: the shipped nearest-store page names a channel of the shipped one.
    (config / "acquisition.yaml").write_text("campaigns: {}\n", encoding="utf-8")
    return config


@pytest.fixture
async def corp(make_settings: Callable[..., Settings], sim: Any, groups_config: Path) -> AsyncIterator[Stack]:
    build_corp(sim.state)
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=groups_config, scrm_quiet_hours="")
    async with serve_app(create_app(settings)) as app, aiohttp.ClientSession() as http:
        sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http,
                                timestamp_clock=sim.state.clock.now)
        await sync_org(app.deps)
        yield Stack(app, sim, sender, http)


async def scrm_failing(stack: Stack, *args: str) -> str:
    """``scrm …`` expected to exit non-zero: its stdout and stderr together."""
    import asyncio
    import os
    import sys

    settings = stack.deps.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "SCRM_", "DATABASE_", "REDIS_"))}
    env |= {
        "WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": str(settings.wecom_agent_id),
        "WECOM_SECRET": settings.wecom_secret.get_secret_value(), "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY,
        "WECOM_API_BASE": settings.wecom_api_base, "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url, "SCRM_REDIS_PREFIX": settings.scrm_redis_prefix,
        "SCRM_CONFIG_DIR": str(settings.scrm_config_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd="/tmp",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode != 0
    return out.decode() + err.decode()


def join_way(state: SimulatorState, way_state: str) -> Any:
    return next(w for w in state.join_ways.values() if w.state == way_state)


async def join(stack: Stack, way_state: str, external_userid: str) -> None:
    """A customer scans the store's group code in WeChat and joins the group WeCom puts them in."""
    for event in customer_joins_via_way(stack.state, join_way(stack.state, way_state).config_id, external_userid):
        await stack.deliver(event)


def listed_sizes(state: SimulatorState, way_state: str) -> dict[str, int]:
    return {c: len(state.group_chats[c].members) for c in join_way(state, way_state).chat_id_list}


# --- the acceptance story ----------------------------------------------------------------------------


async def test_codes_sync_makes_one_join_way_per_store_and_nothing_the_second_time(corp: Stack) -> None:
    out = await scrm(corp, "groups", "codes", "sync")
    assert "2 created, 0 updated, 0 deleted, 0 unchanged" in out
    ways = list(corp.state.join_ways.values())
    assert sorted(w.state for w in ways) == [store_code_state("d11"), store_code_state("d12")]
    for way in ways:
        assert way.scene == 2 and way.auto_create_room == 1 and len(way.state) <= 30
        owner = corp.state.group_chats[way.chat_id_list[0]].owner
        assert owner == ("nj_mgr" if way.state.endswith("d11") else "hb_mgr")
        assert way.room_base_name in ("南京西路店会员群", "湖滨店会员群") and way.qr_code
    calls = corp.state.count_calls("externalcontact/groupchat/add_join_way")

    out = await scrm(corp, "groups", "codes", "sync")
    assert "0 created, 0 updated, 0 deleted, 2 unchanged" in out
    assert corp.state.count_calls("externalcontact/groupchat/add_join_way") == calls
    assert corp.state.count_calls("externalcontact/groupchat/update_join_way") == 0
    listed = await scrm(corp, "groups", "codes", "list")
    assert len(listed.strip().splitlines()) == 2 and store_code_state("d12") in listed

    # The store's manager asks for the code in the app: it comes back as a picture.
    reply = await say(corp, "hb_mgr", "群码 湖滨店会员群码")
    assert "湖滨店会员群码" in reply and store_code_state("d12") in reply
    images = [m for m in corp.state.messages_to("hb_mgr") if m.msgtype == "image"]
    assert len(images) == 1


@volume
@pytest.mark.timeout(420)  # 400 joins through the whole stack; a shared CI host is slow
async def test_400_customers_join_a_store_code_and_no_listed_group_is_ever_full(corp: Stack) -> None:
    await scrm(corp, "groups", "codes", "sync")
    state = corp.state
    code_state = store_code_state("d12")
    # The manager opens two more member groups ahead of the weekend: the code takes them in.
    for name in ("湖滨店会员2群", "湖滨店会员3群"):
        _, created = owner_creates_group(state, "hb_mgr", name)
        await corp.deliver(created)
    await corp.settle()
    assert len(join_way(state, code_state).chat_id_list) == 3

    for batch in range(40):
        for i in range(10):
            await join(corp, code_state, f"wmJoin{batch * 10 + i:04d}")
        await corp.settle(within=30)
        sizes = listed_sizes(state, code_state)
        assert sizes and all(size < FULL_AT for size in sizes.values()), (batch, sizes)

    code = await GroupCode.get(state=code_state)
    store = await Store.get(code="d12")
    # Every joiner is attributed to the code and its store.
    joins = await GroupJoin.filter(code_id=code.id)
    assert len(joins) == 400 and {j.store_id for j in joins} == {store.id}
    assert not await GroupJoin.filter(store_id__not=store.id).exists()
    # Two groups filled to the mark and left the list within 20 s of the callback that filled them.
    full = await GroupCodeChat.filter(code_id=code.id, full_at__not_isnull=True)
    assert len(full) == 2
    for chat in full:
        assert not chat.listed and chat.unlisted_at is not None and chat.full_at is not None
        assert chat.unlisted_at - chat.full_at <= timedelta(seconds=20)
        assert len(state.group_chats[chat.chat_id].members) == FULL_AT + 1  # the owner and 190 customers
    assert listed_sizes(state, code_state) == {join_way(state, code_state).chat_id_list[0]: 1 + 20}
    # The store's board counts them.
    now = datetime.now(ZoneInfo("UTC"))
    assert await compute("group_new_members", "store", now - timedelta(days=1), now + timedelta(days=1)) == {
        store.id: 400}


async def test_when_every_group_is_full_wecom_opens_one_and_the_code_lists_it(corp: Stack) -> None:
    state = corp.state
    first = next(c for c in state.group_chats.values() if c.owner == "hb_mgr")
    for i in range(195):  # a busy group already, from before the code
        state.add_external_contact(f"wmOld{i:03d}")
        first.members[f"wmOld{i:03d}"] = ChatMember(f"wmOld{i:03d}", 2, state.clock.now_int(), 1)
    await scrm(corp, "groups", "codes", "sync")
    code_state = store_code_state("d12")
    assert join_way(state, code_state).chat_id_list == [first.chat_id]  # nothing else to list yet

    for i in range(10):
        await join(corp, code_state, f"wmNew{i}")
    await corp.settle()
    opened = next(c for c in state.group_chats.values() if c.name == "湖滨店会员群1")
    assert join_way(state, code_state).chat_id_list == [opened.chat_id]
    assert len(first.members) == 200 and len(opened.members) == 1 + 6
    code = await GroupCode.get(state=code_state)
    assert code.room_base_id == 2  # WeCom's next number, so an update does not rename the next group
    assert await GroupJoin.filter(code_id=code.id).count() == 10
    assert await GroupJoin.filter(code_id=code.id, chat_id=opened.chat_id).count() == 6


async def test_a_newcomer_gets_the_store_groups_welcome(corp: Stack) -> None:
    out = await scrm(corp, "groups", "codes", "sync")
    assert "group welcomes: 2 created" in out
    state = corp.state
    templates = {t.text: t for t in state.group_welcome_templates.values()}
    hubin = next(t for text, t in templates.items() if text.startswith("欢迎加入湖滨店会员群"))
    assert "image" in hubin.attachment and hubin.attachment["image"]["media_id"] in state.media
    # The owner is told which welcome to pick for the group (WeCom has no API to set it) …
    hint = next(str(m.content["content"]) for m in state.messages_to("hb_mgr") if m.msgtype == "text")
    assert "湖滨店会员1群" in hint and "入群欢迎语" in hint and "欢迎加入湖滨店会员群" in hint
    # … picks it in the group's settings, and WeCom posts it to the next customer who joins.
    chat_id = join_way(state, store_code_state("d12")).chat_id_list[0]
    simulator_groupjoins.owner_picks_group_welcome(state, chat_id, hubin.template_id)
    await join(corp, store_code_state("d12"), "wmNewcomer")
    await corp.settle()
    sent = [w for w in state.group_welcomes_sent if w.external_userid == "wmNewcomer"]
    assert [(w.chat_id, w.text) for w in sent] == [(chat_id, hubin.text)]
    # Synced again: nothing new in the library, and the owner is not told twice.
    hints = len(state.messages_to("hb_mgr"))
    assert "group welcomes: 0 created, 0 updated, 0 deleted, 2 unchanged" in await scrm(corp, "groups", "codes", "sync")
    assert len(state.messages_to("hb_mgr")) == hints


async def test_the_welcome_library_stays_within_wecoms_100(corp: Stack, groups_config: Path) -> None:
    lines = ["welcome:"] + [f"  - {{id: w{i:02d}, text: '欢迎{{store}}{i}', stores: [d11, d12]}}" for i in range(51)]
    (groups_config / "groups.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    process_out = await scrm_failing(corp, "groups", "welcome", "sync")
    assert "100 created" in process_out and "library of 100 is full: w50:d11, w50:d12" in process_out
    assert len(corp.state.group_welcome_templates) == 100


@pytest.fixture
def weekly_push(groups_config: Path) -> None:
    """A weekly step for 湖滨店's groups, due today at midnight (so the next sweep pushes it)."""
    weekday = datetime.now(ZoneInfo("Asia/Shanghai")).isoweekday()
    (groups_config / "groups.yaml").write_text(f"""\
welcome:
  - {{id: store_default, text: "欢迎加入{{store}}会员群"}}
playbooks:
  - id: weekly_arrivals
    name: 每周上新
    groups: {{stores: [d12]}}
    trigger: {{type: weekly, weekday: {weekday}}}
    steps:
      - {{id: arrivals, at: "00:00", send: mass, text: "本周新品已到{{store}}，点开看看～", attachment: member_day}}
""", encoding="utf-8")


async def fire_tick(stack: Stack, name: str) -> None:
    schedule = next(s for s in attributes("ticks") if s.name == name)
    assert await fire(stack.deps, schedule.tick(stack.deps.settings))
    await stack.settle()


async def test_a_weekly_group_step_is_one_push_per_owner_and_its_delivery_shows_in_the_report(
    weekly_push: None, corp: Stack
) -> None:
    state = corp.state
    state.add_group_chat("hb_mgr", "湖滨店会员2群")
    await scrm(corp, "groups", "codes", "sync")
    _, created = owner_creates_group(state, "hb_g0", "湖滨店导购0的客户群")  # a guide's own group
    await corp.deliver(created)
    await corp.settle()

    await fire_tick(corp, "group_push")
    pushes = [t for t in state.msg_templates if t.chat_type == "group"]
    by_sender = {t.sender: t for t in pushes}
    assert sorted(by_sender) == ["hb_g0", "hb_mgr"]  # one push per owner; 南京西路店's groups get none
    manager_groups = sorted(c.chat_id for c in state.group_chats.values() if c.owner == "hb_mgr")
    assert sorted(by_sender["hb_mgr"].chat_ids) == manager_groups and len(manager_groups) == 2
    assert by_sender["hb_mgr"].text == "本周新品已到湖滨店，点开看看～"
    assert by_sender["hb_mgr"].attachments[0]["msgtype"] == "link"
    assert await run_pushes(corp.deps) == 0 and len(state.msg_templates) == 2  # swept again: nothing more

    # The manager confirms in the client; the guide has not yet. WeCom's results come back.
    simulator_groupjoins.member_confirms_group_send(state, by_sender["hb_mgr"].msgid)
    await fire_tick(corp, "group_results")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    await sync_stats(corp.deps, today)

    report = json.loads(await scrm(corp, "groups", "report", "--since", "1d", "--json"))
    hubin = next(row for row in report["stores"] if row["key"] == "d12")
    assert (hubin["pushes"], hubin["pushes_sent"], hubin["groups_reached"]) == (2, 1, 2)
    assert hubin["groups"] == 3 and hubin["groups_with_messages"] == 2 and hubin["messages"] == 2
    owners = {row["key"]: row for row in report["owners"]}
    assert owners["hb_mgr"]["pushes_sent"] == 1 and owners["hb_g0"]["pushes_sent"] == 0
    assert not any(row["key"] == "d11" and row["pushes"] for row in report["stores"])
    text = await scrm(corp, "groups", "report", "--since", "1d")
    assert "群发 1/2 已发出，送达 2 个群" in text

    # The boards and the store manager's daily line read the same figures.
    start = datetime.combine(today, datetime.min.time(), ZoneInfo("Asia/Shanghai"))
    hubin_store = await Store.get(code="d12")
    active = await compute("group_active_rate", "store", start, start + timedelta(days=1))
    assert active[hubin_store.id] == pytest.approx(2 / 3)
    assert await daily_lines(corp.deps, today) == 2
    line = str(state.messages_to("hb_mgr")[-1].content["content"])
    assert line.startswith(f"{today.isoformat()} 湖滨店客户群：") and "活跃群 67%" in line and "消息 2 条" in line


async def test_codes_follow_the_config_the_chat_and_the_owners_new_groups(corp: Stack, groups_config: Path) -> None:
    state = corp.state
    await scrm(corp, "groups", "codes", "sync")
    # A campaign code in config/groups.yaml: its owner has no free group yet, so it waits.
    (groups_config / "groups.yaml").write_text(
        "codes:\n  - {name: 春季快闪群, store: d11, campaign: 春季快闪}\n", encoding="utf-8")
    assert "0 created, 0 updated, 0 deleted, 2 unchanged, 1 waiting for a group" in await scrm(
        corp, "groups", "codes", "sync")
    # The manager makes the campaign's group in the client: the code takes it and goes live.
    spring, created = owner_creates_group(state, "nj_mgr", "春季快闪1群")
    await corp.deliver(created)
    await corp.settle()
    campaign = await GroupCode.get(name="春季快闪群")
    assert campaign.config_id and state.join_ways[campaign.config_id].chat_id_list == [spring.chat_id]
    assert campaign.state.startswith("gc_") and len(campaign.state) <= 30

    # A lost callback: 湖滨店's first group fills without WeCom telling us; the periodic check sees it.
    second, created = owner_creates_group(state, "hb_mgr", "湖滨店会员2群")
    await corp.deliver(created)
    await corp.settle()
    store_way = join_way(state, store_code_state("d12"))
    first_id = store_way.chat_id_list[0]
    assert store_way.chat_id_list == [first_id, second.chat_id]
    for i in range(FULL_AT):
        state.add_external_contact(f"wmQuiet{i:03d}")
        state.group_chats[first_id].members[f"wmQuiet{i:03d}"] = ChatMember(f"wmQuiet{i:03d}", 2, 0, 3)
    await fire_tick(corp, "group_codes_check")
    assert join_way(state, store_code_state("d12")).chat_id_list == [second.chat_id]

    # An operator makes a code by chat; it waits for 湖滨店's owner's next group, then answers with its picture.
    reply = await say(corp, "ops_a", "新建群码 周末群 d12")
    assert "周末群" in reply and "已登记" in reply
    weekend, created = owner_creates_group(state, "hb_mgr", "周末1群")
    await corp.deliver(created)
    await corp.settle()
    reply = await say(corp, "ops_a", "群码 周末群")
    assert "周末群" in reply and "列出 1 个群" in reply
    assert any(m.msgtype == "image" for m in state.messages_to("ops_a"))
    code = await GroupCode.get(name="周末群")
    assert code.config_id and state.join_ways[code.config_id].chat_id_list == [weekend.chat_id]
    assert (await say(corp, "ops_a", "新建群码 周末群 d12")).startswith("已有名为「周末群」")

    # The campaign leaves the file: its join way is deleted; the chat-made code stays.
    (groups_config / "groups.yaml").write_text("codes: []\n", encoding="utf-8")
    assert "1 deleted, 3 unchanged" in await scrm(corp, "groups", "codes", "sync")
    assert campaign.config_id not in state.join_ways and code.config_id in state.join_ways


async def test_a_bad_groups_file_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "groups.yaml"
    path.write_text("group_full_at: 199\ncodes: []\nplaybooks:\n  - id: p1\n    trigger: {type: monthly}\n"
                    "    steps: [{id: s, text: hi}]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"groups.yaml: line 5: unknown trigger 'monthly'; known: date, new_group"):
        load_groups(path)
    path.write_text("group_full_at: 250\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="at most 200"):
        load_groups(path)
