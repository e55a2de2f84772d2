"""A moment (朋友圈) as an SOP step, against the simulator: a weekly 上新 playbook asks the guides to publish one
moment each Monday — one moment task in WeCom per week, never two, however often the tick runs or after it
died half-way; visible to the playbook's tags, published by its guides; `scrm sop report` shows who published
and how many customers could see it as WeCom recorded, and the boards' moment execution rate counts it."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from boards.kinds import compute
from bot.app import open_deps
from bot.clock import ManualClock
from bot.configfiles import ConfigError
from bot.reload import reload_config
from bot.wecom.errors import WeComError
from campaigns.models import Moment
from config.settings import Settings
from customers.config import ORG
from customers.models import Customer, Guide, Relationship, Tag, TagGroup
from handlers.campaigns import on_campaign_sync
from simulator.apis.moments import guide_publishes_moment
from sop.cli import sop_command
from sop.config import load_playbooks
from sop.models import SopOccurrence
from sop.report import moment_steps
from sop.service import run_tick

SHIPPED = Path(__file__).resolve().parent.parent / "config"
# The shipped org.yaml's guides: two in 上海南京西路店 (sh01), one in 杭州湖滨店 (hz01).
GUIDES = ("guide_hz01_a", "guide_sh01_a", "guide_sh01_b")
TAG = "新品关注"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Monday 2 March 2026, 08:00 in Shanghai.
MONDAY_8AM = datetime(2026, 3, 2, 8, 0, tzinfo=SHANGHAI).astimezone(UTC)

WEEKLY = f"""playbooks:
  - id: weekly_new
    name: 每周上新
    trigger: {{type: weekly, weekdays: [周一]}}
    audience: {{tags: [{TAG}]}}
    steps:
      - {{id: moment, day: 0, at: "10:00", action: moment, template: sop_moment_new_arrivals, reason: 每周上新,
         attachments: [member_day]}}
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """The shipped config with one playbook: the weekly 上新 moment to customers tagged 新品关注."""
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    for path in (target / "sop").glob("*.yaml"):
        path.unlink()
    (target / "sop" / "weekly.yaml").write_text(WEEKLY, encoding="utf-8")
    return target


@pytest.fixture
async def corp(make_settings: Callable[..., Settings], sim: Any, config_dir: Path) -> AsyncIterator[Any]:
    """3 guides with 10 customers each, the first 6 of each tagged 新品关注; Monday 08:00 in Shanghai."""
    clock = ManualClock(MONDAY_8AM)
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=config_dir, scrm_quiet_hours="")
    state = sim.state
    group = state.add_tag_group("兴趣", [TAG])
    async with open_deps(settings, clock=clock) as deps:
        db_group = await TagGroup.create(wecom_id=group.group_id, name="兴趣")
        await Tag.create(wecom_id=state.tag_id(TAG), group=db_group, name=TAG)
        start = clock.now() - timedelta(days=30)
        for g, userid in enumerate(GUIDES):
            state.add_member(userid, userid)
            guide = await Guide.get(userid=userid)  # from org.yaml, with its store
            for i in range(10):
                external_userid = f"wmMoment{g}{i}"
                state.add_external_contact(external_userid, f"客户{g}{i}")
                state.relate(userid, external_userid, tag_ids=[state.tag_id(TAG)] if i < 6 else [])
                customer = await Customer.create(external_userid=external_userid, first_seen_at=start)
                await Relationship.create(guide=guide, customer=customer, created_at=start)
        yield deps


def moment_tasks(sim: Any) -> list[Any]:
    """The moment tasks the simulated WeCom holds."""
    return list(sim.state.reach.moments.values())


def at(deps: Any, day: int, hour: int, minute: int = 0) -> None:
    """Move the clock to March ``day`` at hour:minute in Shanghai."""
    deps.clock.set(datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC))


def report_args(days: int = 30) -> argparse.Namespace:
    return argparse.Namespace(action="report", lift=False, by="guide", days=days)


async def test_a_weekly_moment_step_is_one_moment_task_per_week_never_two(corp: Any, sim: Any) -> None:
    deps, state = corp, sim.state
    await run_tick(deps)
    assert moment_tasks(sim) == []  # Monday 08:00: not due before 10:00

    at(deps, 2, 10, 1)
    for _ in range(3):  # the tick again and again (a retried job, two workers one after the other)
        await run_tick(deps)
    [task] = moment_tasks(sim)
    [call] = state.calls_to("externalcontact/add_moment_task")
    assert call.body["visible_range"]["external_contact_list"]["tag_list"] == [state.tag_id(TAG)]
    assert sorted(task.senders) == list(GUIDES)  # every guide publishes (no stores, no guides on the step)
    assert task.text.startswith("本周上新")
    assert [a["msgtype"] for a in task.attachments] == ["link"]  # the library's 会员日 link
    assert await SopOccurrence.filter(playbook="weekly_new").count() == 1

    at(deps, 3, 10, 1)  # Tuesday: not a day of the trigger
    await run_tick(deps)
    at(deps, 9, 10, 1)  # next Monday: the next week's moment
    await run_tick(deps)
    await run_tick(deps)
    assert len(moment_tasks(sim)) == 2
    assert sorted(o.occurrence for o in await SopOccurrence.all()) == ["2026-03-02", "2026-03-09"]


async def test_a_moment_for_a_store_is_published_by_its_guides_only(corp: Any, sim: Any, config_dir: Path) -> None:
    deps = corp
    (config_dir / "sop" / "weekly.yaml").write_text(
        WEEKLY.replace(f"{{tags: [{TAG}]}}", f"{{tags: [{TAG}], stores: [sh01]}}"), encoding="utf-8")
    await reload_config(deps)
    at(deps, 2, 10, 1)
    await run_tick(deps)
    [task] = moment_tasks(sim)
    assert sorted(task.senders) == ["guide_sh01_a", "guide_sh01_b"]


async def test_a_tick_that_died_half_way_sends_the_moment_once_on_the_next(corp: Any, sim: Any) -> None:
    deps, state = corp, sim.state
    at(deps, 2, 10, 1)
    fault = state.faults.inject("externalcontact/add_moment_task", http_status=502)
    with pytest.raises(WeComError):
        await run_tick(deps)
    assert moment_tasks(sim) == [] and fault.hits > 0
    [row] = await SopOccurrence.all()
    assert row.prepared_at is None  # left for the next tick, the moment's row already written
    assert await Moment.filter(jobid="").count() == 1

    state.faults.clear()
    deps.clock.advance(timedelta(minutes=1))
    await run_tick(deps)
    await run_tick(deps)
    assert len(moment_tasks(sim)) == 1
    row = await SopOccurrence.get(id=row.id)
    assert row.prepared_at is not None and row.moment_id is not None and row.error == ""


async def test_the_report_shows_who_published_and_how_many_customers_could_see_it(corp: Any, sim: Any) -> None:
    deps, state = corp, sim.state
    at(deps, 2, 10, 1)
    await run_tick(deps)
    [task] = moment_tasks(sim)
    seen_a = guide_publishes_moment(state, "guide_sh01_a")
    seen_b = guide_publishes_moment(state, "guide_sh01_b")
    assert seen_a == seen_b == 6  # the simulator: their customers with the tag

    at(deps, 2, 18, 0)
    printed = await sop_command(deps, report_args())  # `scrm sop report` syncs the moments it shows first
    [row] = await moment_steps(deps.clock.now() - timedelta(days=1), deps.clock.now())
    assert (row.playbook, row.step, row.occurrence, row.detail) == ("weekly_new", "moment", "2026-03-02", "周一")
    assert row.published == ["guide_sh01_a", "guide_sh01_b"]
    assert row.customers == len(task.visible["guide_sh01_a"]) + len(task.visible["guide_sh01_b"]) == 12
    assert [(g.userid, g.published, g.customers) for g in row.guides] == [
        ("guide_hz01_a", False, 0), ("guide_sh01_a", True, 6), ("guide_sh01_b", True, 6)]
    line = next(line for line in printed.splitlines() if line.startswith("weekly_new/moment"))
    assert line.split()[1:] == ["2026-03-02", "3", "2", "12"]  # day, asked, published, customers
    assert "published by: guide_sh01_a (6), guide_sh01_b (6); not yet: guide_hz01_a" in printed


async def test_guides_moment_execution_rate_counts_the_sop_moments_once_synced_by_the_tick(
    corp: Any, sim: Any
) -> None:
    deps, state = corp, sim.state
    at(deps, 2, 10, 1)
    await run_tick(deps)
    guide_publishes_moment(state, "guide_sh01_b")
    await on_campaign_sync({}, deps)  # the sync tick: no one has to ask for the report first
    ids = {g.userid: g.id for g in await Guide.all()}
    rates = await compute("moment_execution_rate", "guide", deps.clock.now() - timedelta(days=1),
                          deps.clock.now() + timedelta(days=1))
    assert rates == {ids["guide_sh01_a"]: 0.0, ids["guide_sh01_b"]: 1.0, ids["guide_hz01_a"]: 0.0}


async def test_a_moment_wecom_cannot_show_is_refused_once_with_the_reason(
    corp: Any, sim: Any, config_dir: Path
) -> None:
    deps, state = corp, sim.state
    (config_dir / "sop" / "weekly.yaml").write_text(WEEKLY.replace(TAG, "不存在的标签"), encoding="utf-8")
    await reload_config(deps)
    at(deps, 2, 10, 1)
    await run_tick(deps)
    await run_tick(deps)
    assert moment_tasks(sim) == [] and not state.calls_to("externalcontact/add_moment_task")
    [row] = await SopOccurrence.all()
    assert row.error == "没有标签 不存在的标签" and row.prepared_at is not None
    printed = await sop_command(deps, report_args())
    assert "not sent: 没有标签 不存在的标签" in printed


@pytest.mark.parametrize(("edit", "says"), [
    (lambda text: text.replace("{type: weekly, weekdays: [周一]}", "{type: date_field, field: birthday}"),
     "a moment step needs a trigger that falls on days for everyone"),
    (lambda text: text.replace(f"{{tags: [{TAG}]}}", f"{{tags: [{TAG}], exclude_tags: [沉睡]}}"),
     "a moment cannot exclude tags"),
    (lambda text: text.replace("周一", "星期一"), "weekdays must name days of the week"),
    (lambda text: text.replace("attachments: [member_day]", "attachments: " + str(["x"] * 10)),
     "at most 9 attachments"),
])
async def test_a_moment_step_that_cannot_work_stops_the_config_with_the_reason(
    corp: Any, config_dir: Path, edit: Callable[[str], str], says: str
) -> None:
    path = config_dir / "sop" / "weekly.yaml"
    path.write_text(edit(WEEKLY), encoding="utf-8")
    with pytest.raises(ConfigError, match=says) as refused:
        load_playbooks(config_dir, corp.config.templates, corp.config[ORG])
    assert "weekly.yaml" in str(refused.value)
