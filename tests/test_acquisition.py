"""Members become friends of the right guide: a brand's member list in, each member given to a guide of
their store with an add task, adds matched back to members however they came, stale tasks recycled,
and the funnel that says how far each store has got.

A corp of 2 stores (静安店 sa, 西湖店 sb) with 3 guides and a manager each, in the WeCom simulator.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import shutil
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from acquisition.links import member_url, sync_links
from acquisition.models import AcquisitionLink, Member, TaskStatus
from acquisition.service import import_rows, recycle
from boards.kinds import compute
from bot.app import create_app
from bot.clock import ManualClock
from bot.crypto import CallbackCrypto
from channels.service import store_state, sync_channels
from config.settings import Settings
from customers.models import Customer, Relationship, Store
from leads.models import MemberIdentity
from simulator.apis.acquisition import acquisition_of, customer_opens_link, guide_adds_by_phone
from simulator.callbacks import CallbackSender
from simulator.qrcodes import scan_contact_way
from simulator.state import SimulatorState
from tests.conftest import AES_KEY, CORP_ID, TOKEN, Stack, serve_app, volume
from tests.support.chat import say

# Three `scrm` processes and 60 adds through the worker take a while on a loaded machine.
pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parent.parent
GUIDES = {"sa": ["sa_g1", "sa_g2", "sa_g3"], "sb": ["sb_g1", "sb_g2", "sb_g3"]}
ORG_YAML = """\
stores:
  - {code: sa, name: 静安店, lat: 31.2290, lng: 121.4480, address: 上海市静安区南京西路 1 号,
     city: 上海, district: 静安区}
  - {code: sb, name: 西湖店, lat: 30.2460, lng: 120.1550, address: 杭州市西湖区湖滨路 2 号,
     city: 杭州, district: 西湖区}
members:
  - {userid: sa_g1, name: 静安小王, store: sa}
  - {userid: sa_g2, name: 静安小李, store: sa}
  - {userid: sa_g3, name: 静安小张, store: sa}
  - {userid: sa_mgr, name: 静安店长, store: sa, role: store_manager}
  - {userid: sb_g1, name: 西湖小陈, store: sb}
  - {userid: sb_g2, name: 西湖小刘, store: sb}
  - {userid: sb_g3, name: 西湖小周, store: sb}
  - {userid: sb_mgr, name: 西湖店长, store: sb, role: store_manager}
  - {userid: ops, name: 运营, role: operator}
channels:
  - {state: brand_default, name: 品牌顾问码, guide: ops}
"""
ACQUISITION_YAML = """\
acquire_due_days: 2
acquire_recycle_days: 7
acquire_max_recycles: 2
page_requests_per_minute: 30
campaigns:
  spring: {title: 春季到店礼, radius_km: 20, default: brand_default}
"""
GOOD = 290


def member_rows() -> list[dict[str, str]]:
    """290 good members (every other one in each store; the first 100 with a unionid; three ask for
    西湖小刘 by name), with 10 bad rows among them: 5 phones that are no mainland mobile, 3 unknown
    stores, 2 member ids given twice."""
    rows = []
    for i in range(GOOD):
        store = "sa" if i % 2 else "sb"
        rows.append({"member_id": f"M{i:04d}", "phone": f"139 {i:04d} {i:04d}" if i % 3 else f"+86139{i:04d}{i:04d}",
                     "name": f"会员{i:03d}", "store": store, "guide": "sb_g2" if i in (0, 2, 4) else "",
                     "unionid": f"union-{i:04d}" if i < 100 else ""})
    bad = [
        {"member_id": "B1", "phone": "12345", "store": "sa"},
        {"member_id": "B2", "phone": "+1 415 555 1234", "store": "sa"},
        {"member_id": "B3", "phone": "1381234567", "store": "sb"},
        {"member_id": "B4", "phone": "abc", "store": "sb"},
        {"member_id": "B5", "phone": "", "store": "sb"},
        {"member_id": "B6", "phone": "13800000006", "store": "zz"},
        {"member_id": "B7", "phone": "13800000007", "store": "nowhere"},
        {"member_id": "B8", "phone": "13800000008", "store": "SA"},
        {"member_id": "M0001", "phone": "13800000009", "store": "sa"},
        {"member_id": "M0002", "phone": "13800000010", "store": "sb"},
    ]
    for slot, row in zip(range(20, 300, 28), bad, strict=True):  # spread through the file
        rows.insert(slot, {"name": "坏行", "guide": "", "unionid": "", **row})
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["member_id", "phone", "name", "store", "guide", "unionid"])
        writer.writeheader()
        writer.writerows(rows)


def bad_row_numbers(rows: list[dict[str, str]]) -> set[int]:
    return {number for number, row in enumerate(rows, 2) if row["name"] == "坏行"}


def build_corp(state: SimulatorState) -> None:
    for store, userids in GUIDES.items():
        for userid in [*userids, f"{store}_mgr"]:
            state.add_member(userid, store=store)
    state.add_member("ops")


@pytest.fixture
def acq_config(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    (config / "org.yaml").write_text(ORG_YAML, encoding="utf-8")
    (config / "acquisition.yaml").write_text(ACQUISITION_YAML, encoding="utf-8")
    return config


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def corp(make_settings: Callable[..., Settings], sim: Any, acq_config: Path,
               clock: ManualClock) -> AsyncIterator[Stack]:
    build_corp(sim.state)
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=acq_config, scrm_quiet_hours="")
    async with serve_app(create_app(settings, clock=clock)) as app, aiohttp.ClientSession() as http:
        sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http,
                                timestamp_clock=app.deps.clock.timestamp)
        stack = Stack(app, sim, sender, http)
        await sync_channels(stack.deps)
        yield stack


async def scrm(stack: Stack, *args: str) -> tuple[int, str, str]:
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
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd="/tmp",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return int(process.returncode or 0), out.decode(), err.decode()


async def imported(stack: Stack, rows: list[dict[str, str]]) -> None:
    result = await import_rows(stack.deps, list(enumerate(rows, 2)), "members.csv")
    assert result.stored == GOOD and len(result.rejected) == 10


# --- 1 and 2: the list in, a guide for everyone --------------------------------------------------------


@volume
async def test_a_member_list_is_imported_once_and_every_good_member_gets_a_guide_of_their_store(
    corp: Stack, tmp_path: Path
) -> None:
    rows = member_rows()
    path = tmp_path / "members.csv"
    write_csv(path, rows)

    code, out, err = await scrm(corp, "import", "members", str(path))
    assert code == 0, err
    assert "imported 290 members (290 new, 0 updated, 0 unchanged), 10 rows rejected; 290 add tasks assigned" in out
    # Each bad row is named by its number and why; no full phone is printed anywhere.
    rejected = {int(line.split("row ")[1].split(":")[0]): line for line in err.splitlines() if ": row " in line}
    assert set(rejected) == bad_row_numbers(rows)
    reasons = Counter(line.rsplit(": ", 1)[1].split(" ")[0] for line in rejected.values())
    assert reasons == {"not": 5, "unknown": 3, "duplicate": 2}
    assert "13800000009" not in out + err

    # Every good member has an open task with a guide of their own store, spread evenly.
    members = await Member.all().prefetch_related("guide", "store")
    assert len(members) == GOOD
    for member in members:
        assert member.task_status == TaskStatus.OPEN and member.guide is not None
        assert member.guide.userid in GUIDES[member.store.code]
        assert member.phone.startswith("+86139") and len(member.phone) == 14  # E.164, once
    for store, userids in GUIDES.items():
        shares = Counter(m.guide.userid for m in members if m.store.code == store and m.guide)
        assert set(shares) == set(userids) and max(shares.values()) - min(shares.values()) <= 1
    # The `guide` column wins.
    asked = await Member.filter(member_id__in=["M0000", "M0002", "M0004"]).prefetch_related("guide")
    assert {m.guide.userid for m in asked if m.guide} == {"sb_g2"}

    # The same file again changes nothing; a later file updates a member in place.
    before = {m.member_id: (m.guide_id, m.assigned_at, m.updated_at) for m in members}
    code, out, _ = await scrm(corp, "import", "members", str(path))
    assert "(0 new, 0 updated, 290 unchanged), 10 rows rejected; 0 add tasks assigned" in out
    after = {m.member_id: (m.guide_id, m.assigned_at, m.updated_at) for m in await Member.all()}
    assert after == before
    rows[0] = {**rows[0], "name": "改名会员", "phone": "13912345678"}
    write_csv(path, rows)
    code, out, _ = await scrm(corp, "import", "members", str(path))
    assert "(0 new, 1 updated, 289 unchanged)" in out
    changed = await Member.get(member_id=rows[0]["member_id"])
    assert (changed.name, changed.phone, changed.guide_id) == ("改名会员", "+8613912345678",
                                                               before[changed.member_id][0])


async def test_the_signed_intake_takes_the_same_rows_with_the_same_checks(corp: Stack) -> None:
    from bot.intake import signed_headers

    rows = member_rows()[:40]  # rows 22 (a bad phone) among them
    body = orjson.dumps({"members": rows})
    headers = signed_headers("shop", b"test-shop-secret", body, corp.deps.clock.timestamp(), path="/intake/members")
    async with corp.http.post(f"{corp.app.url}/intake/members", data=body, headers=headers) as response:
        assert response.status == 202
        answer = await response.json()
    assert answer["accepted"] == 39 and answer["rejected"] == 1
    assert answer["results"][20] == {"index": 20, "status": "rejected", "reason": "not a mainland mobile number"}
    await corp.settle()
    assert await Member.filter(task_status=TaskStatus.OPEN).count() == 39
    # Sent again: duplicates, nothing changes.
    headers = signed_headers("shop", b"test-shop-secret", body, corp.deps.clock.timestamp(), path="/intake/members")
    async with corp.http.post(f"{corp.app.url}/intake/members", data=body, headers=headers) as response:
        assert (await response.json())["duplicate"] == 39


async def test_a_guide_sees_their_members_masked_and_the_full_phone_only_for_their_own(corp: Stack) -> None:
    await imported(corp, member_rows())
    mine = await Member.filter(guide__userid="sa_g1").order_by("assigned_at", "id").first()
    assert mine is not None
    listed = await say(corp, "sa_g1", "添加会员")
    local = mine.phone.removeprefix("+86")
    assert f"{local[:3]}****{local[-4:]}" in listed and local not in listed
    assert "推荐开场白" in listed and "静安店" in listed
    assert local in await say(corp, "sa_g1", f"会员电话 {mine.id}")
    assert local not in await say(corp, "sa_g2", f"会员电话 {mine.id}")  # another guide's member
    assert "添加会员" in await say(corp, "sa_g1", "待办")


# --- 3 and 6: adds matched, the funnel -------------------------------------------------------------


@volume
async def test_sixty_adds_by_phone_link_and_unionid_are_matched_to_the_right_members(corp: Stack) -> None:
    await imported(corp, member_rows())
    links = await sync_links(corp.deps)
    assert links.created == 2 + 6 and not links.refused
    members = {m.member_id: m for m in await Member.all().prefetch_related("guide", "store")}
    with_union = [m for m in members.values() if m.unionid]
    without = [m for m in members.values() if not m.unionid]
    by_phone, by_link, by_union = without[:20], without[20:40], with_union[:20]

    for i, member in enumerate(by_phone):  # the guide searches the phone (as the member typed it)
        assert member.guide is not None
        local = member.phone.removeprefix("+86")
        await corp.deliver(guide_adds_by_phone(corp.state, member.guide.userid, f"{local[:3]}-{local[3:]}",
                                               f"wmPhone{i:02d}"))
    for i, member in enumerate(by_link):  # the SMS carries the store link with the member id
        link = await AcquisitionLink.get(scope="store", key=member.store.code)
        await corp.deliver(customer_opens_link(corp.state, member_url(link.url, member.member_id), f"wmLink{i:02d}"))
    for i, member in enumerate(by_union):  # scans the store's code; WeCom knows their unionid
        corp.state.add_external_contact(f"wmUnion{i:02d}", unionid=member.unionid or "")
        config_id = next(w.config_id for w in corp.state.contact_ways.values()
                         if w.state == store_state(member.store.code))
        await corp.deliver(scan_contact_way(corp.state, config_id, f"wmUnion{i:02d}"))
    await corp.settle(within=60)

    expected = ([(m, f"wmPhone{i:02d}", "phone", "guide") for i, m in enumerate(by_phone)]
                + [(m, f"wmLink{i:02d}", "state", "link") for i, m in enumerate(by_link)]
                + [(m, f"wmUnion{i:02d}", "unionid", "code") for i, m in enumerate(by_union)])
    for member, external_userid, matched_by, came_by in expected:
        found = await Member.get(member_id=member.member_id).prefetch_related("customer")
        assert found.customer is not None and found.customer.external_userid == external_userid, member.member_id
        assert (found.matched_by, found.came_by, found.task_status) == (matched_by, came_by, TaskStatus.DONE)
        identity = await MemberIdentity.get(member_id=member.member_id)
        assert identity.external_userid == external_userid
    # How they came is the customer's channel: 导购添加, 获客链接, or the store's 门店码.
    channel_of = {r.customer.external_userid: r.channel.name if r.channel else ""
                  for r in await Relationship.all().prefetch_related("customer", "channel")}
    assert channel_of["wmPhone00"] == "导购添加" and channel_of["wmLink00"] == "获客链接"
    assert channel_of["wmUnion00"].endswith("门店码")
    # The customer now carries the member's unionid: orders keyed by it reach them.
    assert (await Customer.get(external_userid="wmUnion00")).unionid == by_union[0].unionid

    code, out, err = await scrm(corp, "acquisition", "funnel", "--json")
    assert code == 0, err
    figures = orjson.loads(out)
    total = figures["total"]
    assert (total["imported"], total["assigned"], total["added"]) == (GOOD, GOOD, 60)
    assert (total["added_via_phone"], total["added_via_link"], total["added_via_unionid"],
            total["added_via_code"]) == (20, 20, 20, 20)
    assert total["open"] == GOOD - 60 and total["overdue"] == 0 and total["recycled"] == 0
    assert {row["store"] for row in figures["stores"]} == {"sa", "sb"}
    assert sum(row["added"] for row in figures["stores"]) == 60
    assert {row["userid"] for row in figures["guides"]} <= {u for us in GUIDES.values() for u in us}
    for key in ("imported", "assigned", "added", "added_via_link", "added_via_code", "added_via_phone",
                "added_via_unionid", "overdue", "recycled", "bought_30d"):
        assert key in figures["stores"][0] and key in figures["guides"][0]
    # HQ's PK ranks stores by the share of their members added.
    now = corp.deps.clock.now()
    board = await compute("member_add_rate", "store", now - timedelta(days=1), now + timedelta(days=1))
    stores = {s.code: s.id for s in await Store.all()}
    assert round(board[stores["sa"]] * 145 + board[stores["sb"]] * 145) == 60


async def test_links_are_kept_in_step_and_a_quota_refusal_is_named(corp: Stack) -> None:
    await imported(corp, member_rows())
    assert (await sync_links(corp.deps)).created == 8
    again = await sync_links(corp.deps)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 8)
    code, out, _ = await scrm(corp, "acquisition", "links")
    assert len(out.strip().splitlines()) == 8 and "https://work.weixin.qq.com/ca/" in out
    # A link deleted by hand in WeCom is made again; the quota spent, the refusal says so.
    corp_links = acquisition_of(corp.state)
    first = next(iter(corp_links.links))
    del corp_links.links[first]
    assert (await sync_links(corp.deps)).created == 1
    corp_links.balance = 0
    del corp_links.links[next(iter(corp_links.links))]
    refused = await sync_links(corp.deps)
    assert refused.refused and "acquisition quota used up" in refused.refused[0][1]
    code, _out, err = await scrm(corp, "acquisition", "links", "--sync")
    assert code == 1 and "acquisition quota used up" in err


# --- 2: recycling ----------------------------------------------------------------------------------


async def test_a_task_left_open_past_the_recycle_days_moves_to_another_guide_of_the_store_once_a_run(
    corp: Stack, clock: ManualClock
) -> None:
    await imported(corp, member_rows())
    # The morning: every guide gets one 添加会员 message (masked phones, a greeting), once a day.
    from acquisition.delivery import send_guide_digests

    assert await send_guide_digests(corp.deps) == 6 and await send_guide_digests(corp.deps) == 0
    digest = corp.state.messages_to("sa_g1")[-1].content["content"]
    assert digest.startswith("【添加会员】") and re.search(r"有 4[89] 位会员", digest) and "推荐开场白" in digest
    assert "****" in digest and not re.search(r"1[3-9]\d{9}", digest)
    first = {m.member_id: m.guide_id for m in await Member.all()}
    clock.advance(timedelta(days=6))
    assert (await recycle(corp.deps)).moved == 0  # not yet
    clock.advance(timedelta(days=1, hours=1))
    assert (await recycle(corp.deps)).moved == GOOD
    assert (await recycle(corp.deps)).moved == 0  # once a run: a moved task starts its days again
    members = await Member.all().prefetch_related("guide", "store")
    for member in members:
        assert member.guide_id != first[member.member_id] and member.recycled == 1
        assert member.guide is not None and member.guide.userid in GUIDES[member.store.code]

    code, out, _ = await scrm(corp, "acquisition", "funnel", "--json")
    total = orjson.loads(out)["total"]
    assert total["recycled"] == GOOD and total["overdue"] == 0
    clock.advance(timedelta(days=3))
    # Managers' line: assigned, added, open, overdue — one per store, once a day.
    from acquisition.delivery import send_store_lines

    assert await send_store_lines(corp.deps) == 2 and await send_store_lines(corp.deps) == 0
    line = corp.state.messages_to("sa_mgr")[-1].content["content"]
    assert "已分配 145" in line and "待添加 145" in line and "超期 145" in line

    clock.advance(timedelta(days=5))
    assert (await recycle(corp.deps)).moved == GOOD
    clock.advance(timedelta(days=8))
    parked = await recycle(corp.deps)
    assert (parked.moved, parked.parked) == (0, GOOD)  # twice moved, then parked and counted
    assert await Member.filter(task_status=TaskStatus.PARKED).count() == GOOD
