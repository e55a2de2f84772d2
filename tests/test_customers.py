"""Customers, as a brand would notice them: scans, welcomes, losses, tags, group chats, backfill.

Every test drives the real app through the simulator: WeCom sends a signed, encrypted callback,
the worker handles it, and what the customer or guide would receive is read back from WeCom.
"""

from __future__ import annotations

from typing import Any

from bot.models.eventlog import EventLog
from customers.backfill import backfill_contacts
from customers.models import (
    ChannelCode,
    Customer,
    CustomerTag,
    GroupChat,
    Relationship,
    Tag,
    TagSource,
)
from tests.conftest import Stack, volume
from tests.support.waiting import eventually


def seed_store_sh01(stack: Stack) -> None:
    # The members config/org.yaml names, as they exist in WeCom.
    stack.state.add_member("guide_sh01_a", "王小美")
    stack.state.add_member("manager_sh01", "张店长")


def texts_to(stack: Stack, userid: str) -> list[str]:
    return [m.content.get("content", "") for m in stack.state.messages_to(userid) if m.msgtype == "text"]


async def test_qr_scan_records_customer_channel_and_sends_one_welcome(stack: Stack) -> None:
    seed_store_sh01(stack)
    xml = stack.state.customer_scans_qr("guide_sh01_a", "wmZHOU001", state="store_sh01", name="周小姐")
    await stack.deliver(xml)
    await stack.settle()

    customer = await Customer.get(external_userid="wmZHOU001")
    assert customer.name == "周小姐"
    relationship = await Relationship.get(customer=customer).prefetch_related("guide", "channel")
    assert relationship.guide.userid == "guide_sh01_a"
    assert relationship.state == "store_sh01"
    assert relationship.channel == await ChannelCode.get(state="store_sh01")
    [welcome] = stack.state.welcome_messages
    assert welcome.text == (
        "您好周小姐，欢迎来到上海南京西路店！我是您的专属导购王小美，新品到店、会员活动都会第一时间告诉您。"
    )


async def test_same_add_event_three_times_sends_one_welcome(stack: Stack) -> None:
    seed_store_sh01(stack)
    xml = stack.state.customer_scans_qr("guide_sh01_a", "wmZHOU001", state="store_sh01")
    for _ in range(3):
        await stack.deliver(xml)
    await stack.settle()
    assert len(stack.state.welcome_messages) == 1
    assert stack.state.count_calls("externalcontact/send_welcome_msg") == 1
    assert await Relationship.all().count() == 1
    assert await EventLog.filter(source="wecom").count() == 1


async def test_slow_answer_makes_wecom_resend_and_still_one_welcome(stack: Stack) -> None:
    seed_store_sh01(stack)
    stack.sender.timeout = 0.001  # WeCom gives up on the answer and re-sends the same request
    scan = stack.state.customer_scans_qr("guide_sh01_a", "wmZHOU001", state="store_sh01")
    report = await stack.sender.send(scan)
    assert report.attempts > 1
    # On a loaded host every one of those attempts may have been dropped before it was read whole;
    # WeCom's last re-send is then answered in time (what was appended before is a duplicate now).
    stack.sender.timeout = 5.0
    assert (await stack.sender.send(scan)).delivered
    # Wait for the event itself, not just an empty queue (an append still in flight leaves the
    # queue empty for a moment).
    await eventually(lambda: EventLog.filter(source="wecom").exists())
    await stack.settle()
    assert len(stack.state.welcome_messages) == 1
    assert await EventLog.filter(source="wecom").count() == 1


async def test_expired_welcome_code_is_logged_not_retried_forever(stack: Stack) -> None:
    seed_store_sh01(stack)
    xml = stack.state.customer_scans_qr("guide_sh01_a", "wmLATE001", state="store_sh01")
    stack.state.advance(30)  # the event reaches us after the code's ~20 s
    await stack.deliver(xml)
    await stack.settle()
    assert stack.state.welcome_messages == []
    assert stack.state.count_calls("externalcontact/send_welcome_msg") == 1, "one try, no retry loop"
    assert await Customer.filter(external_userid="wmLATE001").exists(), "the customer is still recorded"
    assert (await stack.deps.queue.depth())["dead"] == 0


async def test_add_without_welcome_code_sends_no_welcome(stack: Stack) -> None:
    seed_store_sh01(stack)
    xml = stack.state.customer_scans_qr("guide_sh01_a", "wmQUIET01", state="store_sh01", with_welcome_code=False)
    await stack.deliver(xml)
    await stack.settle()
    assert await Customer.filter(external_userid="wmQUIET01").exists()
    assert stack.state.count_calls("externalcontact/send_welcome_msg") == 0


async def test_customer_deleting_guide_alerts_guide_and_manager_once(stack: Stack) -> None:
    seed_store_sh01(stack)
    await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmGONE001", state="store_sh01", name="钱先生"))
    await stack.settle()
    lost = stack.state.customer_deletes_guide("guide_sh01_a", "wmGONE001")
    for _ in range(2):
        await stack.deliver(lost)
    await stack.settle()

    relationship = await Relationship.get(customer__external_userid="wmGONE001")
    assert relationship.deleted_by_customer_at is not None
    [to_guide] = texts_to(stack, "guide_sh01_a")
    [to_manager] = texts_to(stack, "manager_sh01")
    assert to_guide == to_manager
    assert "客户「钱先生」已将王小美删除" in to_guide
    assert "添加时长：0天" in to_guide and "最近购买：暂无购买记录" in to_guide
    assert "来源渠道：南京西路店门店码" in to_guide


async def test_guide_removing_customer_is_recorded_without_alert(stack: Stack) -> None:
    seed_store_sh01(stack)
    await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmBYE0001", state="store_sh01"))
    await stack.settle()
    await stack.deliver(stack.state.guide_deletes_customer("guide_sh01_a", "wmBYE0001"))
    await stack.settle()
    relationship = await Relationship.get(customer__external_userid="wmBYE0001")
    assert relationship.deleted_by_guide_at is not None and relationship.deleted_by_customer_at is None
    assert texts_to(stack, "guide_sh01_a") == []


async def test_tag_changes_made_in_wecom_appear_locally(stack: Stack) -> None:
    seed_store_sh01(stack)
    await stack.deliver(stack.state.admin_creates_tag("兴趣", "拖鞋"))
    await stack.settle()
    tag = await Tag.get(name="拖鞋").prefetch_related("group")
    assert tag.group.name == "兴趣" and not tag.deleted

    await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmTAG0001", state="store_sh01"))
    await stack.settle()
    await stack.deliver(stack.state.guide_edits_contact("guide_sh01_a", "wmTAG0001", add_tag_ids=[tag.wecom_id]))
    await stack.settle()
    row = await CustomerTag.get(customer__external_userid="wmTAG0001", tag=tag)
    assert row.source == TagSource.WECOM

    await stack.deliver(stack.state.admin_deletes_tag(tag.wecom_id))
    await stack.settle()
    await tag.refresh_from_db()
    assert tag.deleted


async def test_group_chat_create_join_and_dismiss(stack: Stack) -> None:
    seed_store_sh01(stack)
    chat = stack.state.add_group_chat("guide_sh01_a", "南京西路店会员群", external_userids=["wmG1"])
    await stack.deliver(stack.state.chat_created(chat.chat_id))
    await stack.settle()
    assert (await GroupChat.get(chat_id=chat.chat_id)).member_count == 2
    stack.state.add_external_contact("wmG2")
    await stack.deliver(stack.state.customer_joins_chat(chat.chat_id, "wmG2"))
    await stack.settle()
    assert (await GroupChat.get(chat_id=chat.chat_id)).member_count == 3
    await stack.deliver(stack.state.chat_dismissed(chat.chat_id))
    await stack.settle()
    assert (await GroupChat.get(chat_id=chat.chat_id)).dismissed_at is not None


@volume
async def test_backfill_of_10000_contacts_is_complete_and_resumable(stack: Stack) -> None:
    stack.state.generate_contacts(40, 10_000, seed=7, tagged_fraction=0.3)
    deps: Any = stack.deps
    first = await backfill_contacts(deps, max_pages=30)  # interrupted part-way
    assert 0 < first.contacts < 10_000
    assert await Customer.all().count() == first.contacts
    second = await backfill_contacts(deps)
    assert second.resumed and second.contacts == 10_000
    assert await Customer.all().count() == 10_000
    assert await Relationship.all().count() == sum(len(r) for r in stack.state.relations.values())
    tagged = sum(len(rel.tag_ids) for rels in stack.state.relations.values() for rel in rels.values())
    assert await CustomerTag.all().count() == tagged
    # Running it again later is a clean re-sync, not duplicates.
    await backfill_contacts(deps)
    assert await Customer.all().count() == 10_000


async def test_worker_start_mirrors_corp_tags_once_per_window(make_settings: Any, sim: Any) -> None:
    from bot.app import create_app
    from customers.events import corp_tag_sync_requested
    from tests.conftest import serve_app

    sim.state.add_tag_group("会员等级", ["金卡", "银卡"])
    settings = make_settings(wecom_api_base=sim.url, scrm_sync_tags_on_start=True)
    async with serve_app(create_app(settings)) as app:

        async def mirrored() -> bool:
            return await Tag.filter(name__in=["金卡", "银卡"]).count() == 2

        await eventually(mirrored)
        # A second worker starting in the same 10-minute window queues the same job: a duplicate.
        deps = app.deps
        assert not await corp_tag_sync_requested(deps)

        async def drained() -> bool:
            depth = await deps.queue.depth()
            return depth["stream"] == 0 and depth["retry"] == 0

        await eventually(drained)
    assert sim.state.count_calls("externalcontact/get_corp_tag_list") == 1


async def deliver_loss_before_its_add(stack: Stack, external_userid: str) -> None:
    """The customer scans guide_sh01_a's code and deletes the guide 5 s later; WeCom delivers the
    loss first and the add after it (a retried add, or two workers racing)."""
    added = stack.state.customer_scans_qr("guide_sh01_a", external_userid, state="store_sh01")
    stack.state.advance(5)
    lost = stack.state.customer_deletes_guide("guide_sh01_a", external_userid)
    for callback in (lost, added):
        await stack.deliver(callback)
        await stack.settle()


async def test_loss_delivered_before_its_add_keeps_the_customer_lost(stack: Stack) -> None:
    """WeCom guarantees no order: a retried add can arrive after the customer already left (and two
    workers can take the two events at once). The customer must end up lost, not live, and a later
    genuine re-add must bring the relation back."""
    seed_store_sh01(stack)
    stack.state.add_external_contact("wmFAST001", "快先生")
    await deliver_loss_before_its_add(stack, "wmFAST001")

    relationship = await Relationship.get(customer__external_userid="wmFAST001")
    assert relationship.deleted_by_customer_at is not None, "handled late, the add must not revive the relation"
    assert stack.state.welcome_messages == [], "nobody to welcome: the customer had already gone"
    assert texts_to(stack, "guide_sh01_a") == [], "no churn alert naming a customer we never saw"
    assert await EventLog.filter().count() >= 2

    stack.state.advance(60)
    await stack.deliver(stack.state.customer_scans_qr("guide_sh01_a", "wmFAST001", state="store_sh01"))
    await stack.settle()
    await relationship.refresh_from_db()
    assert relationship.deleted_by_customer_at is None, "a re-add after the loss starts the relation again"
    customer = await Customer.get(external_userid="wmFAST001")
    assert customer.name == "快先生"
    assert len(stack.state.welcome_messages) == 1


async def test_late_add_does_not_revive_a_loss_while_another_guide_still_follows(stack: Stack) -> None:
    """Here WeCom still knows the customer (another guide follows them), so the late add's fetch
    succeeds: the relation with the guide who was dropped must stay lost all the same."""
    seed_store_sh01(stack)
    stack.state.add_external_contact("wmTWO0001", "双先生")
    stack.state.relate("manager_sh01", "wmTWO0001", state="", add_way=1)
    await deliver_loss_before_its_add(stack, "wmTWO0001")

    relationship = await Relationship.get(guide__userid="guide_sh01_a", customer__external_userid="wmTWO0001")
    assert relationship.deleted_by_customer_at is not None
    assert relationship.state == "store_sh01", "the late add still fills in the channel"
    assert (await Customer.get(external_userid="wmTWO0001")).name == "双先生"
