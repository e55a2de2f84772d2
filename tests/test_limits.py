"""What we send fits WeCom's byte limits: long texts go out in parts or with a "回复 … 查看全部" tail,
never refused (45002) and never dropped, and one recipient's failure stops no one else."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.app import open_deps
from bot.clock import ManualClock
from bot.commands import split_reply
from bot.wecom import limits
from config.settings import Settings
from customers.models import Customer, Guide, Relationship
from sop.delivery import send_reminders
from sop.service import run_tick
from tests.conftest import Stack
from tests.support.waiting import eventually

SHIPPED = Path(__file__).resolve().parent.parent / "config"


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


@pytest.fixture
async def deps(make_settings: Callable[..., Settings], sim: Any, tmp_path: Path) -> AsyncIterator[Any]:
    config_dir = tmp_path / "config"
    shutil.copytree(SHIPPED, config_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    for path in (config_dir / "sop").glob("*.yaml"):
        path.write_text(path.read_text(encoding="utf-8").replace("holdout: 10%", "holdout: 0%"), encoding="utf-8")
    for userid, name in (("guide_sh01_a", "王小美"), ("guide_sh01_b", "李晓"), ("guide_hz01_a", "陈静")):
        sim.state.add_member(userid, name)
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=config_dir, scrm_quiet_hours="")
    async with open_deps(settings, clock=ManualClock(local(2, 8))) as opened:
        yield opened


async def new_customers(guide: str, count: int, first_id: int) -> None:
    member = await Guide.get(userid=guide)
    for n in range(first_id, first_id + count):
        # Long names, as real remarks are ("王女士 南京西路店 VIP 老客 3 月生日"): each task line ~200 bytes.
        customer = await Customer.create(
            id=n, external_userid=f"wmLimit{n}", name=f"客户{n}号南京西路店年卡会员老客户", first_seen_at=local(2, 7)
        )
        await Relationship.create(guide=member, customer=customer, created_at=local(2, 7))


def texts_to(sim: Any, userid: str) -> list[str]:
    return [str(m.content.get("content", "")) for m in sim.state.messages_to(userid) if m.msgtype == "text"]


async def test_a_long_reminder_fits_with_a_tail_and_a_refused_guide_stops_no_one(deps: Any, sim: Any) -> None:
    await new_customers("guide_sh01_a", 12, 7000)  # 12 overdue tasks: the stock reminder runs past 2,048 bytes
    await new_customers("guide_sh01_b", 1, 7100)  # has left the company: WeCom refuses the send (81013)
    await new_customers("guide_hz01_a", 1, 7200)  # comes after both in the pass
    sim.state.resign_member("guide_sh01_b")
    await run_tick(deps)
    deps.clock.set(local(2, 17))

    assert await send_reminders(deps) == 2

    [long] = texts_to(sim, "guide_sh01_a")
    assert len(long.encode()) <= 2048
    assert long.startswith("【待办提醒】王小美，还有 12 项") and long.endswith("……共 12 项，回复「待办」查看全部。")
    assert "客户7000号" in long
    [short] = texts_to(sim, "guide_hz01_a")
    assert "客户7200号" in short and "查看全部" not in short


def test_replies_split_by_bytes_keep_every_character() -> None:
    reply = "客户：" + "王" * 1000 + "\n" + "\n".join(f"{i}. 南京西路店会员" for i in range(300))
    parts = split_reply(reply)
    assert all(0 < len(p.encode()) <= 2048 for p in parts)
    # A 3,000-byte line goes out in two pieces, not halved until it fits: every character arrives.
    assert "".join(parts).replace("\n", "") == reply.replace("\n", "")


@pytest.mark.parametrize("text", ["a" * 5000, "é" * 3000, "王" * 1000 + "x", "🎂" * 700, "ab\n" * 2000])
def test_cut_fit_and_split_never_cut_a_character(text: str) -> None:
    for limit in (5, 7, 100, 2048):
        assert text.startswith(limits.cut(text, limit)) and len(limits.cut(text, limit).encode()) <= limit
        fitted = limits.fit(text, limit, "回复「待办」查看全部"[: limit // 6])
        assert len(fitted.encode()) <= limit
        parts = limits.split(text, limit)
        assert all(len(p.encode()) <= limit for p in parts)
        assert "".join(parts).replace("\n", "") == text.replace("\n", "")


async def test_a_guide_who_left_does_not_keep_the_store_manager_from_the_churn_alert(stack: Stack) -> None:
    for userid, name in (("guide_sh01_a", "王小美"), ("manager_sh01", "张店长")):
        stack.state.add_member(userid, name)
    await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmGONE101", state="store_sh01", name="钱先生"))
    await stack.settle()
    stack.state.resign_member("guide_sh01_a")  # WeCom refuses messages to them now (81013)
    await stack.deliver(stack.state.customer_deletes_guide("guide_sh01_a", "wmGONE101"))
    await stack.settle()
    await eventually(lambda: bool(texts_to(stack.sim, "manager_sh01")))
    [to_manager] = texts_to(stack.sim, "manager_sh01")
    assert "客户「钱先生」已将王小美删除" in to_manager
