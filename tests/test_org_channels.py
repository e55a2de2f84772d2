"""The organisation from WeCom's address book, and the channel codes the product makes from it.

A corp of 3 stores and 40 members in departments; org.yaml says only where the stores are and who
the two operators are. Everything else comes from WeCom, and a customer scanning a code made by the
product is attributed to its store and guide.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from boards.kinds import compute
from bot.app import create_app
from bot.crypto import CallbackCrypto
from bot.models.commands import CommandAudit
from channels.models import ContactWay
from channels.report import channel_figures
from channels.service import personal_state, store_state, sync_channels
from config.settings import Settings
from customers.models import ChannelCode, Guide, Relationship, Role, Store
from orgsync.service import member_left, sync_org
from simulator.addressbook import add_department, delete_member, hire_member, move_member, seed_member
from simulator.callbacks import CallbackSender
from simulator.qrcodes import qr_png, scan_contact_way
from simulator.state import SimulatorState
from tests.conftest import AES_KEY, CORP_ID, TOKEN, Stack, serve_app, volume
from tests.support import chat

REPO = Path(__file__).resolve().parent.parent
STORES = {11: ("nj", "南京西路店"), 12: ("hb", "湖滨店"), 13: ("sl", "三里屯店")}
GUIDES_PER_STORE = 11
ORG_YAML = """\
# Only what WeCom cannot say: where the stores are, and who the operators are.
store_root: 门店
members:
  - {userid: ops_a, role: operator}
  - {userid: ops_b, role: operator}
"""


def build_corp(state: SimulatorState) -> None:
    """门店 → 华东区 → 南京西路店, 湖滨店; 门店 → 三里屯店; 运营部. 40 members."""
    add_department(state, 2, "门店")
    add_department(state, 10, "华东区", parentid=2)
    add_department(state, 11, "南京西路店", parentid=10)
    add_department(state, 12, "湖滨店", parentid=10)
    add_department(state, 13, "三里屯店", parentid=2)
    add_department(state, 3, "运营部")
    for department, (prefix, store_name) in STORES.items():
        seed_member(state, f"{prefix}_mgr", f"{store_name}店长", [department], leader=True)
        for i in range(GUIDES_PER_STORE):
            seed_member(state, f"{prefix}_g{i:02d}", f"{prefix}导购{i:02d}", [department])
    seed_member(state, "ops_a", "运营甲", [3])
    seed_member(state, "ops_b", "运营乙", [3])
    seed_member(state, "region_a", "区域经理", [10], leader=True)
    seed_member(state, "region_b", "区域助理", [10])
    assert len(state.members) == 40


@pytest.fixture
def org_config(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    (config / "org.yaml").write_text(ORG_YAML, encoding="utf-8")
    # This corp's own org.yaml: the shipped nearest-store page names a channel of the shipped one.
    (config / "acquisition.yaml").write_text("campaigns: {}\n", encoding="utf-8")
    return config


@pytest.fixture
async def corp(make_settings: Callable[..., Settings], sim: Any, org_config: Path) -> AsyncIterator[Stack]:
    build_corp(sim.state)
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=org_config, scrm_quiet_hours="")
    async with serve_app(create_app(settings)) as app, aiohttp.ClientSession() as http:
        sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http)
        yield Stack(app, sim, sender, http)


async def synced(stack: Stack) -> None:
    deps = stack.deps
    result = await sync_org(deps)
    for userid in result.left:
        await member_left(deps, userid, deps.clock.now())
    await sync_channels(deps)


async def scrm(stack: Stack, *args: str) -> str:
    """Run ``scrm …`` as an operator would, against this test's database, Redis and simulator."""
    settings = stack.deps.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "SCRM_", "DATABASE_", "REDIS_"))}
    env |= {
        "WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": str(settings.wecom_agent_id),
        "WECOM_SECRET": settings.wecom_secret.get_secret_value(), "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY,
        "WECOM_API_BASE": settings.wecom_api_base, "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url, "SCRM_REDIS_PREFIX": settings.scrm_redis_prefix,
        "SCRM_CONFIG_DIR": str(settings.scrm_config_dir),
    }
    # Asynchronous: the simulator answering the command runs in this test's event loop.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd="/tmp",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    return out.decode()


def way_of(state: SimulatorState, way_state: str) -> Any:
    return next(w for w in state.contact_ways.values() if w.state == way_state)


async def scan(stack: Stack, way_state: str, external_userid: str, name: str = "") -> Relationship:
    """A customer scans the code whose state is ``way_state``; the relation as we recorded it."""
    config_id = way_of(stack.state, way_state).config_id
    await stack.deliver(scan_contact_way(stack.state, config_id, external_userid, name=name or None))
    await stack.settle()
    return await Relationship.get(customer__external_userid=external_userid).prefetch_related(
        "guide", "channel", "channel__store"
    )


def texts_to(stack: Stack, userid: str) -> list[str]:
    return [str(m.content.get("content", "")) for m in stack.state.messages_to(userid) if m.msgtype == "text"]


say = partial(chat.say, msgtype="text")  # a code's image comes with its text


# --- the acceptance story ----------------------------------------------------------------------------


@volume
async def test_sync_gives_every_store_and_guide_a_working_code_and_scans_are_attributed(corp: Stack) -> None:
    out = await scrm(corp, "sync", "org")
    assert "3 stores, 40 members (38 new" in out  # the operators came from org.yaml
    out = await scrm(corp, "channels", "sync")
    assert "0 deleted" in out and "without members" in out

    stores = {s.code: s for s in await Store.all()}
    assert {stores[f"d{d}"].name for d in STORES} == {name for _, name in STORES.values()}
    # Store managers from WeCom's department leaders; the two operators from org.yaml stay operators.
    managers = await Guide.filter(role=Role.STORE_MANAGER).values_list("userid", flat=True)
    assert sorted(managers) == ["hb_mgr", "nj_mgr", "sl_mgr"]
    assert set(await Guide.filter(role=Role.OPERATOR).values_list("userid", flat=True)) == {"ops_a", "ops_b"}
    assert (await Guide.get(userid="region_a")).role == Role.GUIDE  # leads 华东区, which is no store
    for department, (prefix, _) in STORES.items():
        in_store = await Guide.filter(store__code=f"d{department}").values_list("userid", flat=True)
        assert len(in_store) == GUIDES_PER_STORE + 1 and all(u.startswith(prefix) for u in in_store)

    # Every store and every guide has a code in WeCom; operators have none.
    for department in STORES:
        way = way_of(corp.state, store_state(f"d{department}"))
        assert way.scene == 2 and way.type == 2 and len(way.users) == GUIDES_PER_STORE + 1 and way.qr_code
    serving = await Guide.filter(role__in=[Role.GUIDE, Role.STORE_MANAGER]).values_list("userid", flat=True)
    assert len(serving) == 38
    for userid in serving:
        way = way_of(corp.state, personal_state(userid))
        assert (way.type, way.users) == (1, [userid])
    assert not any(w.state == personal_state("ops_a") for w in corp.state.contact_ways.values())
    assert await ContactWay.filter(deleted_at__isnull=True).count() == 3 + 38

    # A customer scans 湖滨店's code: one of its guides gets them, attributed to 湖滨店.
    relation = await scan(corp, store_state("d12"), "wmScanStore1", "周小姐")
    assert relation.channel.store.code == "d12" and relation.guide.userid.startswith("hb_")
    assert "湖滨店" in corp.state.welcome_messages[-1].text
    # A customer scans a guide's personal code: that guide, that guide's store.
    relation = await scan(corp, personal_state("nj_g03"), "wmScanGuide1")
    assert relation.guide.userid == "nj_g03"
    assert relation.channel.guide_userid == "nj_g03" and relation.channel.store.code == "d11"

    # Running both again changes nothing in WeCom.
    calls = corp.state.count_calls("externalcontact/add_contact_way")
    await scrm(corp, "sync", "org")
    assert "0 created, 0 updated, 0 deleted, 41 unchanged" in await scrm(corp, "channels", "sync")
    assert corp.state.count_calls("externalcontact/add_contact_way") == calls
    listed = await scrm(corp, "channels", "list")
    assert len(listed.strip().splitlines()) == 41 and store_state("d13") in listed


async def test_a_new_member_gets_a_code_and_a_moved_guide_takes_theirs_along(corp: Stack) -> None:
    await synced(corp)
    await corp.deliver(hire_member(corp.state, "sl_new", "新导购", [13]))
    await corp.settle()
    newcomer = await Guide.get(userid="sl_new").prefetch_related("store")
    assert newcomer.store is not None and newcomer.store.code == "d13"
    assert way_of(corp.state, personal_state("sl_new")).users == ["sl_new"]
    assert "sl_new" in way_of(corp.state, store_state("d13")).users

    await corp.deliver(move_member(corp.state, "nj_g05", [12]))
    await corp.settle()
    moved = await Guide.get(userid="nj_g05").prefetch_related("store")
    assert moved.store is not None and moved.store.code == "d12"
    code = await ChannelCode.get(state=personal_state("nj_g05")).prefetch_related("store")
    assert code.store is not None and code.store.code == "d12"  # the personal code is re-pointed
    assert "nj_g05" in way_of(corp.state, store_state("d12")).users
    assert "nj_g05" not in way_of(corp.state, store_state("d11")).users
    assert corp.state.count_calls("externalcontact/update_contact_way") >= 2
    relation = await scan(corp, personal_state("nj_g05"), "wmMoved1")
    assert relation.channel.store.code == "d12"


async def test_a_new_leader_becomes_manager_and_a_chat_role_change_sticks(corp: Stack) -> None:
    await synced(corp)
    await corp.deliver(move_member(corp.state, "sl_g01", [13], leader=True))
    await corp.settle()
    assert (await Guide.get(userid="sl_g01")).role == Role.STORE_MANAGER
    # An admin sets them back to guide in chat; a later sync (still a leader) leaves that alone.
    await Guide.filter(userid="sl_g01").update(role=Role.GUIDE)
    await synced(corp)
    assert (await Guide.get(userid="sl_g01")).role == Role.GUIDE
    # A leader who stops leading is no longer made manager by us: back to guide.
    await corp.deliver(move_member(corp.state, "hb_mgr", [12], leader=False))
    await corp.settle()
    assert (await Guide.get(userid="hb_mgr")).role == Role.GUIDE


async def test_a_role_an_admin_set_in_chat_outlives_the_address_book(corp: Stack) -> None:
    """The leader stays a guide after leading again, and a chat-made manager stays one after leading stops."""
    await synced(corp)
    await Guide.filter(userid="ops_a").update(role=Role.ADMIN)  # as SCRM_ADMIN_USERIDS or org.yaml would
    await corp.deliver(move_member(corp.state, "sl_g01", [13], leader=True))
    await corp.settle()
    assert (await Guide.get(userid="sl_g01")).role == Role.STORE_MANAGER
    assert "导购" in await say(corp, "ops_a", "角色 sl_g01 导购")
    for leads in (False, True):  # WeCom's leader flag goes off, then on again
        await corp.deliver(move_member(corp.state, "sl_g01", [13], leader=leads))
        await corp.settle()
    await synced(corp)
    assert (await Guide.get(userid="sl_g01")).role == Role.GUIDE
    # The other way: a leader made manager by the address book, then confirmed as manager in chat.
    assert "店长" in await say(corp, "ops_a", "角色 hb_mgr 店长")
    await corp.deliver(move_member(corp.state, "hb_mgr", [12], leader=False))
    await corp.settle()
    await synced(corp)
    assert (await Guide.get(userid="hb_mgr")).role == Role.STORE_MANAGER


async def test_deleting_a_member_with_customers_notifies_their_manager_once(corp: Stack) -> None:
    await synced(corp)
    for i in range(3):
        await scan(corp, personal_state("nj_g07"), f"wmLeaver{i}")
    await scan(corp, personal_state("nj_g01"), "wmBusy1")  # nj_g01 has one customer: not the taker
    delete = delete_member(corp.state, "nj_g07")
    await corp.deliver(delete)
    await corp.deliver(delete)  # WeCom re-sends it
    await corp.settle()
    await synced(corp)  # the nightly full sync finds them gone too
    await corp.settle()

    notices = [t for t in texts_to(corp, "nj_mgr") if "成员离职提醒" in t]
    assert len(notices) == 1
    assert "3 位客户" in notices[0] and "交接 nj_g07 nj_g00" in notices[0]
    assert not any("成员离职提醒" in t for u in ("ops_a", "hb_mgr") for t in texts_to(corp, u))
    # Nothing was handed over without a person saying so; the code is gone with its guide.
    assert corp.state.count_calls("externalcontact/resigned/transfer_customer") == 0
    assert not (await Guide.get(userid="nj_g07")).active
    assert not any(w.state == personal_state("nj_g07") for w in corp.state.contact_ways.values())
    assert "nj_g07" not in way_of(corp.state, store_state("d11")).users


async def test_a_member_without_customers_or_manager_leaves_quietly_or_tells_operators(corp: Stack) -> None:
    await synced(corp)
    await corp.deliver(delete_member(corp.state, "hb_g02"))  # no customers: nobody is bothered
    await corp.settle()
    assert not any("成员离职提醒" in t for t in texts_to(corp, "hb_mgr"))
    await scan(corp, personal_state("region_b"), "wmRegion1")  # region_b has no store, so no manager
    await corp.deliver(delete_member(corp.state, "region_b"))
    await corp.settle()
    for operator in ("ops_a", "ops_b"):
        assert any("区域助理" in t and "1 位客户" in t for t in texts_to(corp, operator))


# --- chat ------------------------------------------------------------------------------------------


async def test_channel_code_in_chat_answers_with_the_code_image(corp: Stack) -> None:
    await synced(corp)
    answer = await say(corp, "ops_a", "渠道码 湖滨店门店码")
    assert "湖滨店门店码" in answer and store_state("d12") in answer
    images = [m for m in corp.state.messages_to("ops_a") if m.msgtype == "image"]
    assert len(images) == 1
    uploaded = corp.state.media[images[0].content["media_id"]]
    assert uploaded.content == qr_png(way_of(corp.state, store_state("d12")).config_id)
    # Asked again: the same material is reused (3 days), not uploaded again.
    await say(corp, "ops_b", "渠道码 s_d12")
    assert corp.state.count_calls("media/upload") == 1
    assert [m.content for m in corp.state.messages_to("ops_b") if m.msgtype == "image"] == [images[0].content]
    assert "没有找到渠道码" in await say(corp, "ops_a", "渠道码 不存在的码")
    assert "仅限" in await say(corp, "nj_g00", "渠道码 湖滨店门店码")


async def test_a_store_manager_gets_their_stores_codes_only(corp: Stack) -> None:
    """渠道码 answers a manager for their store's codes and their own; another store's is "not found"."""
    await synced(corp)
    assert "没有找到渠道码" in await say(corp, "nj_mgr", "渠道码 湖滨店门店码")
    assert "没有找到渠道码" in await say(corp, "nj_mgr", f"渠道码 {personal_state('hb_g03')}")
    assert not any(m.msgtype == "image" for m in corp.state.messages_to("nj_mgr"))
    assert store_state("d11") in await say(corp, "nj_mgr", "渠道码 南京西路店门店码")
    assert personal_state("nj_g03") in await say(corp, "nj_mgr", f"渠道码 {personal_state('nj_g03')}")
    assert personal_state("nj_mgr") in await say(corp, "nj_mgr", f"渠道码 {personal_state('nj_mgr')}")
    assert "湖滨店门店码" in await say(corp, "ops_a", "渠道码 湖滨店门店码")  # operators: any store's


async def test_a_manager_without_a_store_sees_no_stores_channel_figures(corp: Stack) -> None:
    await synced(corp)
    await scan(corp, store_state("d13"), "wmFigAll")
    await Guide.filter(userid="region_a").update(role=Role.STORE_MANAGER)  # as an admin set in chat; no store
    answer = await say(corp, "region_a", "渠道数据")
    assert "没有所属门店" in answer and "三里屯店门店码" not in answer
    assert "三里屯店门店码" in await say(corp, "ops_a", "渠道数据")


async def test_new_channel_code_by_chat_is_checked_audited_and_attributes_its_campaign(corp: Stack) -> None:
    await synced(corp)
    refused = await say(corp, "nj_g00", "新建渠道码 春季快闪 d11 春季活动")
    assert "仅限" in refused
    answer = await say(corp, "ops_a", "新建渠道码 春季快闪 南京西路店 春季活动")
    assert "春季快闪" in answer and "春季活动" in answer
    audit = await CommandAudit.filter(userid="ops_a", command="新建渠道码").first()
    assert audit is not None and audit.result == "ok"
    assert await CommandAudit.filter(userid="nj_g00", result="refused").exists()
    assert any(m.msgtype == "image" for m in corp.state.messages_to("ops_a"))
    code = await ChannelCode.get(name="春季快闪").prefetch_related("store")
    assert code.campaign == "春季活动" and code.store is not None and code.store.code == "d11"
    assert len(code.state) <= 30 and len(way_of(corp.state, code.state).users) == GUIDES_PER_STORE + 1

    relation = await scan(corp, code.state, "wmSpring1", "吴先生")
    assert relation.channel.name == "春季快闪" and relation.channel.store.code == "d11"
    assert "春季活动" in corp.state.welcome_messages[-1].text
    assert "已有名为" in await say(corp, "ops_a", "新建渠道码 春季快闪 d12")
    # For named guides: a code they alone answer; a word that is neither store nor member is refused.
    await say(corp, "ops_b", "新建渠道码 直播间 hb_g01 hb_g02")
    live = await ChannelCode.get(name="直播间")
    assert sorted(way_of(corp.state, live.state).users) == ["hb_g01", "hb_g02"]
    assert "不是门店" in await say(corp, "ops_b", "新建渠道码 错码 无此人 也无此店")
    # The chat-made code survives the next sync and follows its members.
    await synced(corp)
    assert way_of(corp.state, code.state).config_id


async def test_a_guide_asking_for_my_code_gets_their_personal_code(corp: Stack) -> None:
    await synced(corp)
    answer = await say(corp, "hb_g04", "我的码")
    assert "专属码" in answer and "湖滨店" in answer
    image = next(m for m in corp.state.messages_to("hb_g04") if m.msgtype == "image")
    way = way_of(corp.state, personal_state("hb_g04"))
    assert corp.state.media[image.content["media_id"]].content == qr_png(way.config_id)
    assert "仅限导购、店长" in await say(corp, "ops_a", "我的码")  # operators serve no customers


# --- figures ---------------------------------------------------------------------------------------


async def test_channel_figures_and_the_store_board_metric(corp: Stack) -> None:
    from datetime import timedelta
    from decimal import Decimal

    from customers.orders import OrderIn, record_orders

    await synced(corp)
    deps = corp.deps
    for i in range(3):
        await scan(corp, store_state("d13"), f"wmFig{i}")
    await scan(corp, personal_state("nj_g02"), "wmFigNj")
    await corp.deliver(corp.state.customer_deletes_guide(
        (await Relationship.get(customer__external_userid="wmFig0").prefetch_related("guide")).guide.userid, "wmFig0"))
    await corp.settle()
    now = deps.clock.now()
    await record_orders([OrderIn("FIG-1", Decimal("300"), now + timedelta(minutes=1), "wmFig1")])

    rows = {r.state: r for r in await channel_figures(now - timedelta(days=1), now + timedelta(days=1))}
    store_row = rows[store_state("d13")]
    assert (store_row.adds, store_row.losses, store_row.net_adds) == (3, 1, 2)
    assert (store_row.lost_within_7d, store_row.bought_within_30d, store_row.sales) == (1, 1, Decimal("300"))
    assert rows[personal_state("nj_g02")].net_adds == 1

    board = await compute("channel_net_adds", "store", now - timedelta(days=1), now + timedelta(days=1))
    stores = {s.code: s.id for s in await Store.all()}
    assert board[stores["d13"]] == 2 and board[stores["d11"]] == 1
    report = await say(corp, "ops_a", "渠道数据 7")
    assert report.startswith("渠道数据（近7天）")
    assert "三里屯店门店码" in report and "净增 2" in report and "¥300.00" in report
    mine = await say(corp, "sl_mgr", "渠道数据")  # a store manager: their store's codes, the last 30 days
    assert mine.startswith("渠道数据（近30天，d13）") and "三里屯店门店码" in mine and "南京西路店门店码" not in mine
    assert "1 到 366" in await say(corp, "ops_a", "渠道数据 0")
    out = await scrm(corp, "channels", "report", "--since", "1d")
    assert "三里屯店门店码" in out and "净增 2" in out


async def test_a_new_store_department_becomes_a_store_with_a_code(corp: Stack) -> None:
    from simulator.addressbook import create_department, rename_department

    await synced(corp)
    await corp.deliver(create_department(corp.state, 14, "西湖店", parentid=10))
    await corp.settle()
    store = await Store.get(code="d14")
    assert store.name == "西湖店"
    await corp.deliver(hire_member(corp.state, "xh_g00", "西湖导购", [14]))
    await corp.settle()
    assert way_of(corp.state, store_state("d14")).users == ["xh_g00"]
    await corp.deliver(rename_department(corp.state, 14, "杭州西湖店"))
    await corp.settle()
    assert (await Store.get(code="d14")).name == "杭州西湖店"


async def test_a_channel_removed_from_org_yaml_is_deleted_in_wecom(
    make_settings: Callable[..., Settings], sim: Any, org_config: Path
) -> None:
    build_corp(sim.state)
    org = org_config / "org.yaml"
    org.write_text(ORG_YAML + "channels:\n  - {state: live_0618, name: 618直播码, guide: nj_g01, campaign: 618,"
                   " welcome: welcome_campaign}\n", encoding="utf-8")
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=org_config)
    async with serve_app(create_app(settings)) as app:
        await sync_org(app.deps)
        await sync_channels(app.deps)
    live = way_of(sim.state, "live_0618")
    assert (live.type, live.users, live.remark) == (1, ["nj_g01"], "618直播码")

    sim.state.contact_ways.pop(live.config_id)  # someone deleted it in WeCom by hand already
    org.write_text(ORG_YAML, encoding="utf-8")
    async with serve_app(create_app(make_settings(wecom_api_base=sim.url, scrm_config_dir=org_config))) as app:
        result = await sync_channels(app.deps)
        way = await ContactWay.get(channel__state="live_0618")
    assert result.deleted == 1 and not result.failed  # "deleted twice" is what we wanted anyway
    assert sim.state.count_calls("externalcontact/del_contact_way", errcode=40058) == 1
    assert way.deleted_at is not None


async def test_a_move_reaches_alerts_and_boards_without_a_restart(corp: Stack) -> None:
    from datetime import timedelta

    await synced(corp)
    await scan(corp, personal_state("nj_g08"), "wmMove1")
    await corp.deliver(move_member(corp.state, "nj_g08", [13]))
    await corp.settle()
    await corp.deliver(corp.state.customer_deletes_guide("nj_g08", "wmMove1"))
    await corp.settle()
    assert any("客户流失提醒" in t for t in texts_to(corp, "sl_mgr"))  # the new store's manager
    assert not any("客户流失提醒" in t for t in texts_to(corp, "nj_mgr"))
    now = corp.deps.clock.now()
    board = await compute("new_customers", "store", now - timedelta(days=1), now + timedelta(days=1))
    assert board == {(await Store.get(code="d13")).id: 1.0}


def test_generated_states_stay_within_30_characters_and_apart() -> None:
    long_a, long_b = "a" * 60 + "1", "a" * 60 + "2"
    states = {personal_state(long_a), personal_state(long_b), store_state("x" * 32), store_state("x" * 31 + "y")}
    assert len(states) == 4 and all(len(s) <= 30 for s in states)
    assert personal_state("nj_g01") == "g_nj_g01" and store_state("d11") == "s_d11"
