"""The SOP part of ``make demo``: a customer enters a playbook, the guide's morning digest shows the
task, the guide closes it from the card, and HQ reads the execution rate and the lift report."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from aiohttp import web

from bot.appkeys import DEPS
from bot.demokit import DemoRun, say, show, wait_for
from bot.deps import Deps
from customers.models import Customer, Guide, Order
from simulator.callbacks import CallbackSender
from simulator.state import SimulatorState
from sop.delivery import send_digests
from sop.engine import in_holdout
from sop.models import SopTask, TaskStatus
from sop.report import execution_rate, format_execution, format_lift, lift

__all__ = ["sop_story"]


async def sop_story(app: web.Application, state: SimulatorState, sender: CallbackSender) -> None:
    deps = app[DEPS]
    say("SOP: a new customer enters the 新客旅程 playbook (day 0 / 1 / 3 / 7, 10% holdout)")
    task = None
    for n, name in enumerate(("林女士", "赵先生", "钱女士", "孙先生"), start=1):
        external_userid = f"wmDemoSop{n:02d}"
        await sender.send(state.customer_scans_qr("guide_sh01_a", external_userid, state="store_sh01", name=name))
        entered = SopTask.filter(customer__external_userid=external_userid, playbook="new_customer")
        await wait_for(entered.exists)
        row = await SopTask.get(customer__external_userid=external_userid, playbook="new_customer")
        if row.status == TaskStatus.CONTROL:
            show(f"{name}: drawn into the control group by a stable hash — no task, measured for lift")
            continue
        task = row
        show(f"{name} scanned 王小美's code → task #{row.id} ({row.step}, due now) for 王小美")
        break
    if task is None:
        return
    task_id = task.id
    await wait_for(lambda: SopTask.filter(id=task_id).exclude(suggested_text="").exists())
    task = await SopTask.get(id=task_id)
    show(f"suggested text, rendered for her: 「{task.suggested_text}」")

    say("09:30 — the morning digest: a template card to each guide, most valuable first")
    await send_digests(deps)
    card = next(m for m in reversed(state.messages_to("guide_sh01_a")) if m.msgtype == "template_card")
    show(f"card to guide_sh01_a: 「{card.content['main_title']['title']}」")
    for line in str(card.content["sub_title_text"]).splitlines():
        show(f"  {line}")
    show("buttons: " + " / ".join(b["text"] for b in card.content["button_list"]))
    show("王小美 types 「待办」 to the app and gets the same list:")
    before = len(state.messages_to("guide_sh01_a"))
    await sender.send(state.guide_sends_text("guide_sh01_a", "待办"))
    await wait_for(lambda: len(state.messages_to("guide_sh01_a")) > before)
    for line in str(state.messages_to("guide_sh01_a")[-1].content.get("content", "")).splitlines():
        show(f"  {line}")

    say(f"王小美 taps 「完成#{task.id}」 on the card (template_card_event → key sop:done:{task.id})")
    await sender.send(state.guide_clicks_card("guide_sh01_a", str(card.content["task_id"]), f"sop:done:{task.id}"))
    await wait_for(lambda: SopTask.filter(id=task_id, status=TaskStatus.DONE).exists())

    def answers() -> list[str]:
        texts = [str(m.content.get("content", "")) for m in state.messages_to("guide_sh01_a") if m.msgtype == "text"]
        return [t for t in texts if t.startswith("已完成")]

    await wait_for(lambda: bool(answers()))
    done = await SopTask.get(id=task.id)
    show(f"task #{task.id} is done (by {done.done_by}); the app answered: 「{answers()[-1]}」")

    say("HQ: execution rate (scrm sop report) and lift against the holdout (scrm sop report --lift)")
    seeded = await _seed_history(deps)
    show(f"(the demo loads last quarter's history first: {seeded} customers who entered 新客旅程 40–70 days ago, "
         "held out by the same stable hash, and their orders)")
    now = deps.clock.now()
    for line in format_execution(await execution_rate(now - timedelta(days=1), now + timedelta(minutes=1)), "guide"):
        show(line)
    for line in format_lift(await lift(deps.config.sop.current, now + timedelta(minutes=1))):
        show(line)
    show("(conversion = an order within the playbook's window after the step; the CI needs both arms)")


async def _seed_history(deps: Deps, count: int = 600) -> int:
    """Synthetic past exposures of 新客旅程 (so both arms of the lift report have customers): the
    treated convert a little more often than the control group, as a working playbook would."""
    rng = random.Random(7)
    playbook = deps.config.sop.current.get("new_customer")
    if playbook is None:
        return 0
    guide = await Guide.get(userid="guide_sh01_a")
    now = deps.clock.now()
    await Customer.bulk_create([
        Customer(external_userid=f"wmDemoHist{i:04d}", name=f"老客{i}", first_seen_at=now - timedelta(days=70))
        for i in range(count)
    ])
    ids = dict(await Customer.filter(external_userid__startswith="wmDemoHist").values_list("external_userid", "id"))
    tasks, orders = [], []
    for i in range(count):
        customer_id = ids[f"wmDemoHist{i:04d}"]
        due = now - timedelta(days=rng.uniform(40, 70))
        control = in_holdout(playbook, customer_id)
        tasks.append(SopTask(
            playbook=playbook.id, step=playbook.steps[0].id, customer_id=customer_id, guide_id=guide.id,
            occurrence=f"hist-{i}", due_at=due, created_at=due, reason="新客添加当天问候",
            status=TaskStatus.CONTROL if control else TaskStatus.DONE, done_at=None if control else due,
        ))
        if rng.random() < (0.12 if control else 0.30):
            orders.append(Order(order_id=f"DEMO-HIST-{i}", customer_id=customer_id, amount=Decimal("299"),
                                paid_at=due + timedelta(days=rng.uniform(1, 13)), source="demo"))
    await SopTask.bulk_create(tasks)
    await Order.bulk_create(orders)
    return count


async def chapter(run: DemoRun) -> None:
    """The demo chapter (bot/features.py)."""
    await sop_story(run.app, run.state, run.sender)
