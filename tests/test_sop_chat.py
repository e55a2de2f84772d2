"""SOP in chat and on the boards: 待办 / 完成 for guides, SOP 列表 / 暂停 / 恢复 for operators, the
customer profile's open tasks, tasks following a hand-over, the execution-rate metric."""

from __future__ import annotations

from datetime import timedelta

from boards.kinds import compute
from customers.models import Customer, Guide
from handlers.sop import move_open_tasks
from sop.models import SopPlaybookState, SopTask, TaskStatus
from tests.conftest import Stack
from tests.support.facts import craft_customer
from tests.test_operators import ops, say

__all__ = ["ops"]  # the fixture, shared with the operators' tests


async def task_for(stack: Stack, customer: Customer, guide: str = "guide_sh01_a", *, due_hours: float = 0,
                   status: TaskStatus = TaskStatus.OPEN, step: str = "d0_hello") -> SopTask:
    now = stack.deps.clock.now()
    member = await Guide.get(userid=guide)
    return await SopTask.create(
        playbook="new_customer", step=step, customer=customer, guide=member, occurrence=f"{customer.id}-{step}",
        due_at=now + timedelta(hours=due_hours), reason="新客添加当天问候", value=1.0, created_at=now,
        suggested_text=f"{customer.name}您好，我是王小美", status=status,
        done_at=now if status is TaskStatus.DONE else None,
    )


async def test_a_guide_lists_and_closes_tasks_in_chat(ops: Stack) -> None:
    buyer = await craft_customer(ops.state, {}, ops.deps.clock.now(), name="林女士")
    task = await task_for(ops, buyer)
    listing = await say(ops, "guide_sh01_a", "待办")
    assert f"#{task.id} 林女士" in listing and "新客添加当天问候" in listing
    assert "已完成" in await say(ops, "guide_sh01_a", f"完成 {task.id}")
    await task.refresh_from_db()
    assert (task.status, task.done_by) == (TaskStatus.DONE, "chat")
    assert "今天没有待办" in await say(ops, "guide_sh01_a", "todo")


async def test_operators_pause_and_resume_a_playbook_and_guides_may_not(ops: Stack) -> None:
    refused = await say(ops, "guide_sh01_a", "SOP 暂停 新客旅程")
    assert "仅限" in refused and not await SopPlaybookState.filter(paused=True).exists()
    assert "已暂停 SOP「新客旅程」" in await say(ops, "operator01", "SOP 暂停 新客旅程")
    assert "⏸ 新客旅程" in await say(ops, "operator01", "sop list")
    assert await SopPlaybookState.filter(playbook="new_customer", paused=True, changed_by="operator01").exists()
    assert "已恢复" in await say(ops, "operator01", "SOP 恢复 新客旅程")
    assert "没有名为「不存在」的 SOP" in await say(ops, "operator01", "SOP 暂停 不存在")


async def test_customer_profile_shows_open_tasks(ops: Stack) -> None:
    buyer = await craft_customer(ops.state, {}, ops.deps.clock.now(), name="林女士")
    task = await task_for(ops, buyer, due_hours=2)
    profile = await say(ops, "guide_sh01_a", "客户 林女士")
    assert f"待办 #{task.id}：新客添加当天问候" in profile


async def test_open_tasks_follow_a_hand_over_and_done_ones_stay(ops: Stack) -> None:
    now = ops.deps.clock.now()
    first = await craft_customer(ops.state, {}, now)
    second = await craft_customer(ops.state, {}, now)
    open_task = await task_for(ops, first)
    done_task = await task_for(ops, second, status=TaskStatus.DONE)
    moved = await move_open_tasks(ops.deps, "guide_sh01_a", "guide_sh01_b",
                                  [first.external_userid, second.external_userid])
    assert moved == 1
    assert await move_open_tasks(ops.deps, "guide_sh01_a", "guide_sh01_b", [first.external_userid]) == 0
    await open_task.refresh_from_db()
    await done_task.refresh_from_db()
    taker = await Guide.get(userid="guide_sh01_b")
    assert open_task.guide_id == taker.id  # type: ignore[attr-defined]
    assert done_task.guide_id != taker.id  # type: ignore[attr-defined]


async def test_sop_execution_rate_metric(ops: Stack) -> None:
    now = ops.deps.clock.now()
    a = await craft_customer(ops.state, {}, now)
    b = await craft_customer(ops.state, {}, now, guide="guide_sh01_b")
    await task_for(ops, a, status=TaskStatus.DONE, step="s1")
    await task_for(ops, a, step="s2")
    await task_for(ops, a, status=TaskStatus.DONE, step="s3")
    await task_for(ops, a, status=TaskStatus.CONTROL, step="s4")  # holdout: not due work
    await task_for(ops, b, guide="guide_sh01_b", step="s1")
    ids = {g.userid: g.id for g in await Guide.filter(userid__in=["guide_sh01_a", "guide_sh01_b"])}
    rates = await compute("sop_execution_rate", "guide", now - timedelta(hours=1), now + timedelta(hours=1))
    assert rates[ids["guide_sh01_a"]] == 2 / 3
    assert rates[ids["guide_sh01_b"]] == 0.0
