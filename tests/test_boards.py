"""Leaderboards: metric figures on crafted data, the markdown budget, the CJK chart, send-once delivery."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image

from boards.chart import chart_font_path, has_glyphs, render_chart
from boards.config import LeaderboardConf, PkConf, TeamConf
from boards.delivery import deliver_boards, subscribe
from boards.kinds import compute
from boards.periods import last_complete
from boards.report import render_boards
from boards.service import build_boards
from bot.app import open_deps
from bot.scheduler import Tick, fire
from config.settings import Settings
from customers.models import Customer, Guide, Relationship, Role, Store
from customers.orders import OrderIn, record_orders
from tests.conftest import BACKEND

TZ = "Asia/Shanghai"
# Tuesday 2026-11-24 09:00 in Shanghai: the daily board covers Monday the 23rd.
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 on the 23rd, Shanghai


async def _guide(userid: str, name: str, store: Store | None) -> Guide:
    return await Guide.create(userid=userid, name=name, store=store, role=Role.GUIDE)


async def _relation(guide: Guide, external_userid: str, created: datetime, **extra: Any) -> Customer:
    customer, _ = await Customer.get_or_create(external_userid=external_userid, defaults={"first_seen_at": created})
    await Relationship.create(guide=guide, customer=customer, created_at=created, **extra)
    return customer


async def test_metric_figures_per_guide_and_store(make_settings: Callable[..., Settings]) -> None:
    async with open_deps(make_settings()):
        east = await Store.create(code="e1", name="东区店")
        west = await Store.create(code="w1", name="西区店")
        a, b, c = await _guide("ga", "阿美", east), await _guide("gb", "阿波", east), await _guide("gc", "阿城", west)
        day = last_complete("daily", NOW, TZ)
        for i in range(3):
            await _relation(a, f"wmA{i}", MONDAY)
        await _relation(a, "wmOld", MONDAY - timedelta(days=3))  # added before the period
        await _relation(b, "wmB0", MONDAY, deleted_by_customer_at=MONDAY + timedelta(hours=2))  # added and lost
        await _relation(b, "wmB1", MONDAY - timedelta(days=40), deleted_by_customer_at=MONDAY)  # lost
        await _relation(c, "wmInherited", MONDAY, add_way=201)  # taken over: not "new"
        sleeper = await _relation(c, "wmSleep", MONDAY - timedelta(days=400))
        active = await _relation(c, "wmActive", MONDAY - timedelta(days=400))
        await record_orders([
            OrderIn("o1", Decimal("100"), MONDAY - timedelta(days=200), sleeper.external_userid),
            OrderIn("o2", Decimal("100"), MONDAY, sleeper.external_userid),  # 200 days later: woken
            OrderIn("o3", Decimal("100"), MONDAY - timedelta(days=20), active.external_userid),
            OrderIn("o4", Decimal("100"), MONDAY, active.external_userid),  # was active: not woken
        ])
        assert await compute("new_customers", "guide", day.start, day.end) == {a.id: 3, b.id: 1}
        assert await compute("customers_lost", "guide", day.start, day.end) == {b.id: 2}
        assert await compute("net_growth", "guide", day.start, day.end) == {a.id: 3, b.id: -1}
        assert await compute("net_growth", "store", day.start, day.end) == {east.id: 2}
        assert await compute("dormant_woken", "guide", day.start, day.end) == {c.id: 1}
        assert await compute("dormant_woken", "store", day.start, day.end) == {west.id: 1}
        # The wmOld add counts in its own days, not in this period.
        before = await compute("new_customers", "guide", day.start - timedelta(days=4), day.start)
        assert before == {a.id: 1}


async def _many_guides(count: int) -> LeaderboardConf:
    stores = [await Store.create(code=f"s{i:03d}", name=f"华东大区第{i}号旗舰体验店") for i in range(40)]
    guides = await Guide.bulk_create([
        Guide(userid=f"g{i:04d}", name=f"导购{i:04d}号·超长的名字用来撑满宽度", store=stores[i % 40], role=Role.GUIDE)
        for i in range(count)
    ])
    ids = {g.userid: g.id for g in await Guide.all()}
    customers = await Customer.bulk_create([
        Customer(external_userid=f"wm{i:05d}", first_seen_at=MONDAY) for i in range(count * 2)
    ])
    del guides, customers
    cids = dict(await Customer.all().values_list("external_userid", "id"))
    await Relationship.bulk_create([
        Relationship(guide_id=ids[f"g{i % count:04d}"], customer_id=cids[f"wm{i:05d}"], created_at=MONDAY)
        for i in range(count + count // 2)
    ])
    return LeaderboardConf(metric="new_customers", pk=(
        PkConf("南北对决", "new_customers", date(2026, 11, 1),
               (TeamConf("北队", ("g0000", "g0001")), TeamConf("南队", ("g0002",)))),
    ))


async def test_markdown_fits_4096_bytes_with_500_guides(make_settings: Callable[..., Settings]) -> None:
    async with open_deps(make_settings()) as deps:
        conf = await _many_guides(500)
        boards = await build_boards(deps, last_complete("daily", NOW, TZ), conf)
        assert len(boards.guides.rows) >= 500  # and the members config/org.yaml lists
        text = render_boards(deps.config.templates, boards, top=10, bottom=5)
        assert len(text.encode()) <= 4096
        assert "导购排行日榜" in text and "南北对决" in text and "北队 **4**" in text
        assert "1. " in text and "末位" in text and "501. " in text  # top and bottom
        assert "↑" in text  # change since the day before (nothing then)


async def test_chart_is_a_png_drawn_with_the_projects_cjk_font(make_settings: Callable[..., Settings]) -> None:
    async with open_deps(make_settings()) as deps:
        conf = await _many_guides(30)
        boards = await build_boards(deps, last_complete("daily", NOW, TZ), conf)
    font = chart_font_path()
    assert font.endswith("wqy-microhei.ttc")  # the packaged font, installed by the project itself
    labels = "".join(row.label for row in boards.stores.rows[:15]) + "日榜新增客户按门店暂无数据"
    assert has_glyphs(font, labels)
    # The check can fail: a Latin-only font has no glyphs for these labels (they would be boxes).
    assert not has_glyphs("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "华东大区") if _has_dejavu() else True
    png = render_chart(boards.stores, "日榜 11-23 · 新增客户（按门店）", font)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.size[0] == 900


def _has_dejavu() -> bool:
    from pathlib import Path

    return Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file()


@pytest.mark.skipif(BACKEND == "embedded", reason="processes share the queue and the outbox only through PG + Redis")
async def test_scheduled_boards_are_sent_once_with_two_processes(make_settings: Callable[..., Settings], sim: Any
                                                                 ) -> None:
    sim.state.add_member("manager_sh01", "张店长")
    settings = make_settings(wecom_api_base=sim.url, scrm_robot_keys="HQ群=hq-key")
    async with open_deps(settings) as first, open_deps(settings) as second:
        await subscribe("HQ群", "admin01", first.clock.now())
        tick = Tick("board_daily", cron=settings.scrm_board_daily_cron)
        assert sorted(await asyncio.gather(fire(first, tick), fire(second, tick))) == [False, True]
        # Both workers run the job at once (a retry racing the first attempt): one message each.
        at = first.clock.now()
        await asyncio.gather(deliver_boards(first, "daily", at), deliver_boards(second, "daily", at))
        await deliver_boards(second, "daily", at)  # and once more, later
    robot = sim.state.robot_messages["hq-key"]
    assert [m.msgtype for m in robot] == ["markdown", "image"]
    assert "导购排行日榜" in robot[0].payload["content"]
    manager = sim.state.messages_to("manager_sh01")
    assert len(manager) == 1 and "上海南京西路店" in manager[0].content["content"]


async def test_a_failed_robot_send_is_retried_without_repeating_what_went_out(
    make_settings: Callable[..., Settings], sim: Any
) -> None:
    settings = make_settings(wecom_api_base=sim.url, scrm_robot_keys="HQ群=hq-key", scrm_wecom_max_retries=0)
    async with open_deps(settings) as deps:
        await subscribe("HQ群", "admin01", deps.clock.now())
        # The robot has used its 20 messages this minute after the markdown: the image fails.
        from simulator.faults import SlidingWindow
        from simulator.state import ROBOT_MESSAGES_PER_MINUTE

        window = SlidingWindow(ROBOT_MESSAGES_PER_MINUTE, sim.state.now)
        for _ in range(ROBOT_MESSAGES_PER_MINUTE - 1):
            window.try_acquire()
        sim.state.robot_windows["hq-key"] = window
        with pytest.raises(Exception, match="45009|freq"):
            await deliver_boards(deps, "daily", deps.clock.now())
        sim.state.robot_windows.pop("hq-key")  # a minute later
        await deliver_boards(deps, "daily", deps.clock.now())
    assert [m.msgtype for m in sim.state.robot_messages["hq-key"]] == ["markdown", "image"]
