"""Campaigns, against the simulator: a push to a tag goes out as one WeCom task per guide, each customer once
through the guide who last talked with them; the guides confirm (or not) in WeCom; the report says what WeCom
recorded; reminders reach only who has not sent, within WeCom's 3 a day; the frequency cap; an SOP mass step
measured on delivered customers; a moment to a tag."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.app import open_deps
from bot.clock import ManualClock
from campaigns import moments, service
from campaigns.audience import Audience, holdout_bucket
from campaigns.cli import add_command, campaign_command
from campaigns.models import Campaign, CampaignTarget, CampaignTask
from campaigns.report import campaign_report, moment_report
from config.settings import Settings
from customers.models import ChatMessage, Customer, CustomerTag, Guide, Relationship, Tag, TagGroup, TagSource
from customers.orders import OrderIn, record_orders
from simulator.apis.groupmsg import guide_sends_mass
from simulator.apis.moments import customer_comments, guide_publishes_moment
from sop.config import PLAYBOOKS
from sop.report import delivered_steps, lift
from sop.service import run_tick
from tests.test_operators import ops

__all__ = ["ops"]  # the fixture, shared with the operators' tests

SHIPPED = Path(__file__).resolve().parent.parent / "config"
GUIDES = ("guide_a", "guide_b", "guide_c")
NAMES = {"guide_a": "王小美", "guide_b": "李晓", "guide_c": "陈静"}
TAG = "金卡"


def ext(i: int) -> str:
    return f"wmCamp{i:03d}"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(SHIPPED, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


@pytest.fixture
async def corp(make_settings: Callable[..., Settings], sim: Any, config_dir: Path) -> AsyncIterator[Any]:
    """3 guides and 300 customers with the tag 金卡; the first 40 also follow a second guide, and the first 20
    of those last talked with that second guide. WeCom's cap is 2 mass messages a month, and so is ours."""
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    settings = make_settings(wecom_api_base=sim.url, scrm_config_dir=config_dir, scrm_campaign_cap_count=2,
                             scrm_quiet_hours="")
    state = sim.state
    state.reach.monthly_cap = 2
    group = state.add_tag_group("会员等级", [TAG])
    tag_id = state.tag_id(TAG)
    async with open_deps(settings, clock=clock) as deps:
        db_group = await TagGroup.create(wecom_id=group.group_id, name="会员等级")
        tag = await Tag.create(wecom_id=tag_id, group=db_group, name=TAG)
        guides = {}
        for userid in GUIDES:
            state.add_member(userid, NAMES[userid])
            guides[userid] = await Guide.create(userid=userid, name=NAMES[userid])
        start = clock.now() - timedelta(days=60)
        customers, relations, tags, chats = [], [], [], []
        for i in range(300):
            state.add_external_contact(ext(i), f"客户{i}")
            primary = GUIDES[i % 3]
            state.relate(primary, ext(i), tag_ids=[tag_id])
            customers.append(Customer(id=1000 + i, external_userid=ext(i), name=f"客户{i}", first_seen_at=start))
            relations.append(Relationship(guide=guides[primary], customer_id=1000 + i, created_at=start))
            tags.append(CustomerTag(customer_id=1000 + i, guide=guides[primary], tag=tag, source=TagSource.WECOM))
            if i < 40:
                second = GUIDES[(i + 1) % 3]
                state.relate(second, ext(i))
                relations.append(Relationship(guide=guides[second], customer_id=1000 + i,
                                              created_at=start + timedelta(days=1)))
                if i < 20:
                    chats.append(ChatMessage(msg_id=f"chat-{i}", source="archive", from_id=second, customer_id=1000 + i,
                                             content="周末到店看看", sent_at=clock.now() - timedelta(hours=3)))
        await Customer.bulk_create(customers)
        await Relationship.bulk_create(relations)
        await CustomerTag.bulk_create(tags)
        await ChatMessage.bulk_create(chats)
        yield deps


async def cli(deps: Any, *argv: str) -> tuple[int, str]:
    """``scrm <argv>`` as the CLI parses it, run on these deps: (exit code, what it prints)."""
    parser = argparse.ArgumentParser()
    add_command(parser.add_subparsers(dest="command"))
    return await campaign_command(deps, parser.parse_args(argv))


def expected_guide(i: int) -> str:
    return GUIDES[(i + 1) % 3] if i < 20 else GUIDES[i % 3]


def mass_calls(sim: Any) -> list[dict[str, Any]]:
    return [call.body for call in sim.state.calls_to("externalcontact/add_msg_template")]


def as_recorded(sim: Any, msgid: str) -> dict[str, int]:
    """What the simulated WeCom recorded for one task, in the report's terms."""
    task = sim.state.reach.mass[msgid]
    template = next(t for t in sim.state.msg_templates if t.msgid == msgid)
    statuses = Counter(r.status for r in task.results)
    return {"userid": task.sender, "targeted": len(task.results) + len(template.fail_list), "sent": statuses[1],
            "unsent": statuses[0], "not_friend": statuses[2] + len(template.fail_list), "over_limit": statuses[3]}


async def test_a_campaign_to_a_tag_is_followed_to_each_customer(corp: Any, sim: Any) -> None:
    deps, state = corp, sim.state
    held_out = {i for i in range(300) if holdout_bucket("spring", 1000 + i) < 1000}  # 10%
    a_only = [i for i in range(40, 300) if i % 3 == 0 and i not in held_out]
    b_only = [i for i in range(40, 300) if i % 3 == 1 and i not in held_out]
    capped, over, gone_before, gone_after = a_only[0], a_only[1], b_only[0], b_only[1]
    # ``capped`` had their two mass messages this month through us; ``over`` had theirs from someone else.
    for n in (1, 2):
        await service.send(deps, service.CampaignSpec(
            f"earlier{n}", Audience(external_userids=(ext(capped),)), "上新提醒", holdout_pct=0))
        guide_sends_mass(state, "guide_a")
    await service.sync(deps)
    state.reach.received[ext(over)] = [state.now(), state.now()]
    # One customer is no longer guide_b's friend before the push (fail_list), one leaves after it.
    state.customer_deletes_guide("guide_b", ext(gone_before))
    state.clear_calls()
    before = set(state.reach.mass)

    preview = await service.preview(deps, "spring", Audience(tags=(TAG,)))
    code, said = await cli(deps, "campaign", "send", "--name", "spring", "--tag", TAG,
                           "--text", "{guide}邀您参加春季会员日")
    assert code == 0 and said.startswith("campaign spring: 3 task(s)"), said
    campaign = await Campaign.get(name="spring")

    calls = mass_calls(sim)
    assert sorted(c["sender"] for c in calls) == list(GUIDES)  # one task per guide
    pushed = [e for c in calls for e in c["external_userid"]]
    assert len(pushed) == len(set(pushed)) == preview.customers
    expected = {ext(i): expected_guide(i) for i in range(300) if i not in held_out and i != capped}
    assert {e: c["sender"] for c in calls for e in c["external_userid"]} == expected  # each shared customer once
    assert "王小美邀您参加春季会员日" in next(c for c in calls if c["sender"] == "guide_a")["text"]["content"]
    assert preview.capped == 1 and (await CampaignTarget.get(campaign=campaign, customer__external_userid=ext(capped))
                                    ).arm == "capped"

    state.customer_deletes_guide("guide_b", ext(gone_after))
    msgids = {task.sender: msgid for msgid, task in state.reach.mass.items() if msgid not in before}
    guide_sends_mass(state, "guide_a", msgids["guide_a"])
    guide_sends_mass(state, "guide_b", msgids["guide_b"])

    code, text = await cli(deps, "campaign", "report", "spring", "--json")
    report = json.loads(text)
    assert code == 0 and report["campaign"] == "spring"
    assert report["guides"] == [as_recorded(sim, msgids[g]) for g in GUIDES]
    by_guide = {g["userid"]: g for g in report["guides"]}
    assert by_guide["guide_a"]["over_limit"] == 1 and by_guide["guide_b"]["not_friend"] == 2
    assert by_guide["guide_c"]["sent"] == 0 and by_guide["guide_c"]["unsent"] == by_guide["guide_c"]["targeted"]
    assert report["capped"] == 1 and report["holdout"] == len(held_out)

    # Remind: only the guide who has not sent, in WeCom and by app message; a 4th in a day is refused.
    for _ in range(3):
        reminded = await service.remind(deps, campaign)
        assert [(r.userid, r.reminded) for r in reminded] == [("guide_c", True)]
    assert [c.body["msgid"] for c in state.calls_to("externalcontact/remind_groupmsg_send")] == [msgids["guide_c"]] * 3
    assert any("spring" in m.content.get("content", "") for m in state.messages_to("guide_c"))
    assert not state.messages_to("guide_a")
    fourth = await service.remind(deps, campaign)
    assert [(r.userid, r.reminded) for r in fourth] == [("guide_c", False)]
    assert "3 reminders per task in 24 hours" in fourth[0].reason
    assert state.count_calls("externalcontact/remind_groupmsg_send") == 3

    # Nothing twice: the same campaign again sends no task.
    await service.send(deps, service.CampaignSpec("spring", Audience(tags=(TAG,)), "{guide}邀您参加春季会员日"))
    assert len(mass_calls(sim)) == 3

    # Conversions: an order of a customer it reached, within the window; lift against the holdout.
    reached = next(e for e in state.reach.mass[msgids["guide_a"]].results if e.status == 1).external_userid
    await record_orders([OrderIn("O-spring-1", Decimal("399"), deps.clock.now() + timedelta(days=2), reached)])
    full = (await campaign_report(campaign)).as_json()
    delivered = sum(g["sent"] for g in report["guides"])
    assert full["conversions"]["delivered"] == {"customers": delivered, "converted": 1,
                                                "rate": round(1 / delivered, 4)}
    assert full["conversions"]["holdout"]["converted"] == 0 and full["conversions"]["ci95"] is not None

    # Cancel: the one open task (guide_c's) is cancelled in WeCom; its customers count as not reached.
    code, text = await cli(deps, "campaign", "cancel", "spring")
    assert [c.body["msgid"] for c in state.calls_to("externalcontact/cancel_groupmsg_send")] == [msgids["guide_c"]]
    assert state.reach.mass[msgids["guide_c"]].cancelled


async def test_over_the_cap_counts_a_wecom_over_limit_result(corp: Any, sim: Any) -> None:
    deps, state = corp, sim.state
    state.reach.received[ext(90)] = [state.now(), state.now()]  # WeCom's count, not ours
    await service.send(deps, service.CampaignSpec("first", Audience(external_userids=(ext(90),)), "一", holdout_pct=0))
    guide_sends_mass(state, "guide_a")
    await service.sync(deps)
    assert (await CampaignTarget.get(campaign__name="first")).status == "over_limit"
    # With one over-limit result and our own push counted, the cap of 2 is reached: not targeted again.
    await service.send(deps, service.CampaignSpec("second", Audience(external_userids=(ext(90),)), "二", holdout_pct=0))
    second = await CampaignTarget.get(campaign__name="second")
    assert second.arm == "treated"  # one of two so far: still allowed
    await service.send(deps, service.CampaignSpec("third", Audience(external_userids=(ext(90),)), "三", holdout_pct=0))
    assert (await CampaignTarget.get(campaign__name="third")).arm == "capped"
    assert len(mass_calls(sim)) == 2


async def test_a_plan_in_parts_or_two_plans_at_once_target_each_customer_once(
    corp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a big audience is planned by statements over ranges of customer ids at once: here with three
    parts over 300 customers. Two plans of one campaign racing each other add each customer once."""
    deps = corp
    monkeypatch.setattr(service, "PLAN_SPLIT_MIN", 0)
    monkeypatch.setattr(service, "PLAN_PARTS", 3)
    for name in ("parts", "raced"):
        campaign = await service.create(deps, service.CampaignSpec(name, Audience(tags=(TAG,)), "会员日"))
        if name == "parts":
            assert await service.plan(deps, campaign) == 300
        else:
            await asyncio.gather(service.plan(deps, campaign), service.plan(deps, campaign))
        rows = await CampaignTarget.filter(campaign_id=campaign.id).values_list(
            "customer__external_userid", "guide__userid", "arm")
        assert sorted(rows) == sorted(
            (ext(i), expected_guide(i), "holdout" if holdout_bucket(name, 1000 + i) < 1000 else "treated")
            for i in range(300))
        assert await service.plan(deps, campaign) == 0  # a re-run adds nothing


async def test_content_is_checked_before_anything_is_sent(corp: Any, sim: Any) -> None:
    deps = corp
    for text, attachments in (("好" * 1400, ()), ("{name}您好", ()), ("您好", ("no_such_item",)), ("", ())):
        with pytest.raises(service.ContentError):
            await service.send(deps, service.CampaignSpec("bad", Audience(tags=(TAG,)), text, attachments))
    assert not mass_calls(sim) and not await Campaign.exists()


async def test_an_sop_mass_step_counts_delivered_customers_and_lift_on_them(
    corp: Any, sim: Any, config_dir: Path
) -> None:
    deps, state = corp, sim.state
    for path in (config_dir / "sop").glob("*.yaml"):
        path.unlink()
    (config_dir / "sop" / "mass.yaml").write_text(
        "playbooks:\n  - id: welcome_mass\n    name: 新客群发\n    trigger: {type: customer_added}\n"
        "    holdout: 30%\n    lift_window_days: 14\n    steps:\n"
        "      - {id: hello, day: 0, action: mass, template: sop_new_d0, reason: 新客群发}\n", encoding="utf-8")
    from bot.reload import reload_config

    await reload_config(deps)
    guide = await Guide.get(userid="guide_a")
    added = deps.clock.now() - timedelta(minutes=5)
    for i in range(30):
        state.add_external_contact(f"wmSop{i:02d}")
        state.relate("guide_a", f"wmSop{i:02d}")
        customer = await Customer.create(external_userid=f"wmSop{i:02d}", first_seen_at=added)
        await Relationship.create(guide=guide, customer=customer, created_at=added)
    await run_tick(deps)
    [call] = mass_calls(sim)
    treated = call["external_userid"]
    assert 0 < len(treated) < 30
    state.customer_deletes_guide("guide_a", treated[0])  # gone before the guide sends: not delivered
    guide_sends_mass(state, "guide_a")
    await service.sync(deps)
    await record_orders([OrderIn("O-sop-1", Decimal("99"), deps.clock.now() + timedelta(days=1), treated[1])])

    [row] = await delivered_steps(added - timedelta(hours=1), deps.clock.now() + timedelta(hours=1))
    assert (row.playbook, row.planned, row.prepared, row.delivered) == (
        "welcome_mass", len(treated), len(treated), len(treated) - 1)
    [measured] = await lift(deps.config[PLAYBOOKS], deps.clock.now() + timedelta(days=3))
    assert (measured.treated, measured.treated_converted) == (len(treated) - 1, 1)
    assert measured.control == 30 - len(treated)
    await run_tick(deps)
    assert len(mass_calls(sim)) == 1  # prepared once


async def test_a_moment_to_a_tag_reports_who_published_and_who_could_see_it(corp: Any, sim: Any) -> None:
    deps, state = corp, sim.state
    moment = await moments.send(deps, moments.MomentSpec("spring_moment", "春季新品上架", tags=(TAG,), guides=GUIDES))
    [call] = state.calls_to("externalcontact/add_moment_task")
    assert call.body["visible_range"]["external_contact_list"]["tag_list"] == [state.tag_id(TAG)]
    seen_a = guide_publishes_moment(state, "guide_a")
    seen_b = guide_publishes_moment(state, "guide_b")
    customer_comments(state, moment.moment_id, "guide_a", ext(0), like=True)
    customer_comments(state, moment.moment_id, "guide_a", ext(3), like=False)

    figures = await moment_report(await moments.sync(deps, moment))
    assert figures["published"] == 2 and figures["customers"] == seen_a + seen_b == 200
    assert [(g["userid"], g["published"], g["customers"]) for g in figures["guides"]] == [
        ("guide_a", True, seen_a), ("guide_b", True, seen_b), ("guide_c", False, 0)]
    assert figures["guides"][0]["likes"] == 1 and figures["guides"][0]["comments"] == 1
    assert await moments.remind(deps, moment) == ["guide_c"]
    assert state.messages_to("guide_c") and not state.messages_to("guide_a")
    from boards.kinds import compute

    rates = await compute("moment_execution_rate", "guide", deps.clock.now() - timedelta(days=1),
                          deps.clock.now() + timedelta(days=1))
    ids = {g.userid: g.id for g in await Guide.filter(userid__in=list(GUIDES))}
    assert rates == {ids["guide_a"]: 1.0, ids["guide_b"]: 1.0, ids["guide_c"]: 0.0}


async def test_a_task_never_sent_expires_and_counts_unsent(corp: Any, sim: Any) -> None:
    deps, state = corp, sim.state
    campaign, _ = await service.send(deps, service.CampaignSpec(
        "late", Audience(external_userids=(ext(90), ext(93))), "新品", holdout_pct=0))
    guide_sends_mass(state, "guide_a")  # sent half an hour after it was made: within 24 h
    deps.clock.advance(timedelta(days=8))
    other, _ = await service.send(deps, service.CampaignSpec(
        "never", Audience(external_userids=(ext(91),)), "新品", holdout_pct=0))
    deps.clock.advance(timedelta(days=8))
    # A task WeCom no longer knows is refused on its own; the others are synced.
    await CampaignTask.create(campaign=other, sender="guide_b", chunk=9, msgid="msgUNKNOWN", customers=0,
                              created_at=deps.clock.now())
    synced = await service.sync(deps)
    assert (synced.sent, synced.expired, synced.refused) == (1, 1, 1)
    report = (await campaign_report(other)).as_json()
    assert report["guides"] == [{"userid": "guide_b", "targeted": 1, "sent": 0, "unsent": 1, "not_friend": 0,
                                 "over_limit": 0}]
    from boards.kinds import compute

    rates = await compute("campaign_execution_rate", "guide", deps.clock.now() - timedelta(days=30),
                          deps.clock.now())
    guides = {g.userid: g.id for g in await Guide.filter(userid__in=["guide_a", "guide_b"])}
    assert rates == {guides["guide_a"]: 1.0, guides["guide_b"]: 0.0}


async def test_scheduled_campaigns_go_out_once_when_due(corp: Any, sim: Any, config_dir: Path) -> None:
    from bot.configfiles import ConfigError
    from bot.reload import reload_config
    from campaigns.config import load
    from campaigns.scheduled import send_due

    deps = corp
    local = deps.clock.now().astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    (config_dir / "campaigns.yaml").write_text(
        "campaigns:\n"
        f"  - {{name: due_now, at: '{(local - timedelta(minutes=1)).isoformat()}', tags: [{TAG}], holdout: 0, "
        "text: '{store}会员日'}\n"
        f"  - {{name: tomorrow, at: '{(local + timedelta(days=1)).isoformat()}', tags: [{TAG}], text: 明天}}\n",
        encoding="utf-8")
    await reload_config(deps)
    assert await send_due(deps) == ["due_now"]
    assert await send_due(deps) == []
    assert len(mass_calls(sim)) == 3 and await Campaign.filter(name="due_now", source="schedule").exists()
    (config_dir / "campaigns.yaml").write_text(
        "campaigns:\n  - {name: x, at: soon, tags: [a], text: hi}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"campaigns.yaml: line 2: campaign x: at must be a time"):
        load(config_dir, {})


async def test_guide_behaviour_daily_boards_and_the_managers_line(corp: Any, sim: Any) -> None:
    from boards.kinds import compute
    from campaigns.behaviour import run_daily
    from customers.models import Role, Store
    from simulator.apis.moments import set_behaviour

    deps, state = corp, sim.state
    store = await Store.create(code="sh01x", name="上海测试店")
    await Guide.filter(userid__in=list(GUIDES)).update(store_id=store.id)
    state.add_member("manager_x", "张店长")
    await Guide.create(userid="manager_x", name="张店长", store=store, role=Role.STORE_MANAGER)
    today = deps.clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date()
    for back in range(1, 9):
        day = (today - timedelta(days=back)).isoformat()
        set_behaviour(state, "guide_a", day, chat_cnt=10, message_cnt=30, reply_percentage=90 if back > 1 else 60,
                      avg_reply_time=5, negative_feedback_cnt=1 if back == 1 else 0)
        set_behaviour(state, "guide_b", day, chat_cnt=8, message_cnt=20, reply_percentage=80, avg_reply_time=12)
    for back in range(8, 1, -1):  # the week before, fetched day by day as the tick would
        deps.clock.set(deps.clock.now() - timedelta(days=back))
        await run_daily(deps)
        deps.clock.set(deps.clock.now() + timedelta(days=back))
    assert not state.messages_to("manager_x")
    assert await run_daily(deps) == 1
    [summary] = state.messages_to("manager_x")
    assert "王小美" in summary.content["content"] and "60%" in summary.content["content"]
    assert "李晓" not in summary.content["content"]
    calls = state.calls_to("externalcontact/get_user_behavior_data")
    assert all(len(c.body["userid"]) == 1 for c in calls)  # one guide a call
    yesterday = today - timedelta(days=1)
    start = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    ids = {g.userid: g.id for g in await Guide.filter(userid__in=["guide_a", "guide_b"])}
    assert (await compute("reply_rate", "guide", start, end))[ids["guide_a"]] == pytest.approx(0.6)
    assert (await compute("first_reply_minutes", "guide", start, end))[ids["guide_b"]] == pytest.approx(12)
    assert (await compute("negative_feedback", "guide", start, end))[ids["guide_a"]] == 1


async def test_operators_preview_a_mass_send_in_chat_and_confirm_it(ops: Any) -> None:
    from tests.support.chat import say

    state = ops.state
    group = state.add_tag_group("会员等级", [TAG])
    db_group = await TagGroup.create(wecom_id=group.group_id, name="会员等级")
    tag = await Tag.create(wecom_id=state.tag_id(TAG), group=db_group, name=TAG)
    guide = await Guide.get(userid="guide_sh01_a")
    for i in range(5):
        state.add_external_contact(f"wmChat{i}")
        state.relate("guide_sh01_a", f"wmChat{i}")
        customer = await Customer.create(external_userid=f"wmChat{i}", first_seen_at=datetime.now(UTC))
        await Relationship.create(guide=guide, customer=customer, created_at=datetime.now(UTC))
        await CustomerTag.create(customer=customer, guide=guide, tag=tag, source=TagSource.WECOM)

    shown = await say(ops, "operator01", f"群发 周末 标签={TAG} 对照=0 内容=周末会员日，{{guide}}等你")
    assert "群发「周末」预览：将发给 5 位客户" in shown and "王小美：5 位" in shown and "确认群发 周末" in shown
    assert not state.calls_to("externalcontact/add_msg_template")
    refused = await say(ops, "guide_sh01_a", "确认群发 周末")
    assert "确认群发" in refused and not state.calls_to("externalcontact/add_msg_template")
    assert "已创建 1 个任务，共 5 位客户" in await say(ops, "operator01", "确认群发 周末")
    [call] = state.calls_to("externalcontact/add_msg_template")
    assert call.body["text"]["content"] == "周末会员日，王小美等你"
    assert "没有待确认的群发「周末」" in await say(ops, "operator01", "确认群发 周末")
    assert "未知占位符" in await say(ops, "operator01", f"群发 坏 标签={TAG} 内容={{name}}您好")


async def test_attachments_from_the_sidebar_library_go_out_as_wecom_takes_them(corp: Any, sim: Any) -> None:
    deps, state = corp, sim.state
    await service.send(deps, service.CampaignSpec(
        "with_material", Audience(external_userids=(ext(90),)), "会员日", ("member_day", "size_guide"), holdout_pct=0))
    [call] = mass_calls(sim)
    link, image = call["attachments"]
    assert link == {"msgtype": "link", "link": {"title": "会员日活动", "url": "https://shop.example.com/member-day",
                                                "desc": "本周六会员日，全场满300减50",
                                                "picurl": "https://shop.example.com/static/member-day.png"}}
    assert image["msgtype"] == "image" and image["image"]["media_id"] in state.media
    with pytest.raises(service.ContentError, match="附件最多 9 个"):
        await service.send(deps, service.CampaignSpec("too_many", Audience(tags=(TAG,)), "多", ("member_day",) * 10))
