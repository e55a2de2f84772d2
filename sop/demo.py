"""The SOP chapter of ``make demo``: a customer enters a playbook, the guide's morning digest shows the
task, the guide closes it from the card, HQ reads the execution rate and the lift report; and at 10:00 the
weekly 上新 moment step asks the guides to publish one moment, and the report says who did and to how many."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.deps import Deps
from campaigns.models import Moment
from customers.models import Customer, Guide, Order
from sop.config import PLAYBOOKS
from sop.delivery import send_digests
from sop.engine import in_holdout
from sop.models import SopOccurrence, SopTask, TaskStatus
from sop.report import execution_rate, format_execution, format_lift, format_moments, lift, moment_steps

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]

GUIDE = "guide_sh01_a"


async def _enter(n: Narrator) -> SopTask | None:
    n.say("SOP: a new customer enters the 新客旅程 playbook (day 0 / 1 / 3 / 7, 10% holdout)")
    for number, name in enumerate(("林女士", "赵先生", "钱女士", "孙先生"), start=1):
        external_userid = f"wmDemoSop{number:02d}"
        await n.customer_scans(GUIDE, external_userid, name, state="store_sh01")
        row = await SopTask.get(customer__external_userid=external_userid, playbook="new_customer")
        if row.status == TaskStatus.CONTROL:
            n.show(f"{name}: drawn into the control group by a stable hash — no task, measured for lift")
            continue
        n.show(f"{name} scanned 王小美's code → task #{row.id} ({row.step}, due now) for 王小美")
        n.show(f"suggested text, rendered for her: 「{row.suggested_text}」")
        return row
    return None


async def _digest(n: Narrator) -> str:
    local = n.pass_until(9, 30)
    n.say(f"{local:%H:%M} — the morning digest: a template card to each guide, most valuable first")
    await send_digests(n.deps)
    await n.settle()
    card = next(m for m in reversed(n.messages_to(GUIDE)) if m.msgtype == "template_card")
    n.show(f"card to {GUIDE}: 「{card.content['main_title']['title']}」")
    n.show_text(str(card.content["sub_title_text"]), limit=8)
    n.show("buttons: " + " / ".join(b["text"] for b in card.content["button_list"]))
    n.show("王小美 types 「待办」 to the app and gets the same list:")
    for message in await n.guide_writes(GUIDE, "待办"):
        n.show_text(str(message.content.get("content", "")), limit=8)
    return str(card.content["task_id"])


async def chapter(n: Narrator) -> None:
    """The demo chapter (its feature's ``demo`` slot, bot/feature.py)."""
    task = await _enter(n)
    if task is None:
        return
    card_id = await _digest(n)

    n.say(f"王小美 taps 「完成#{task.id}」 on the card (template_card_event → key sop:done:{task.id})")
    before = len(n.messages_to(GUIDE))
    await n.guide_taps(GUIDE, card_id, f"sop:done:{task.id}")
    await n.wait_for(lambda: any(str(m.content.get("content", "")).startswith("已完成")
                                 for m in n.messages_to(GUIDE)[before:]))
    answer = next(str(m.content["content"]) for m in n.messages_to(GUIDE)[before:]
                  if str(m.content.get("content", "")).startswith("已完成"))
    done = await SopTask.get(id=task.id)
    n.show(f"task #{task.id} is {done.status.value} (by {done.done_by}); the app answered: 「{answer}」")

    deps = n.deps
    n.say("HQ: execution rate (scrm sop report) and lift against the holdout (scrm sop report --lift)")
    seeded = await _seed_history(deps)
    n.show(f"(the demo loads last quarter's history first: {seeded} customers who entered 新客旅程 40–70 days ago, "
           "held out by the same stable hash, and their orders)")
    now = deps.clock.now()
    for line in format_execution(await execution_rate(now - timedelta(days=7), now + timedelta(minutes=1)), "guide"):
        n.show(line)
    for line in format_lift(await lift(deps.config[PLAYBOOKS], now + timedelta(minutes=1))):
        n.show(line)
    n.show("(conversion = an order within the playbook's window after the step; the CI needs both arms)")
    await _weekly_moment(n)


async def _weekly_moment(n: Narrator) -> None:
    """每周上新 (config/sop/new_arrivals.yaml): a moment step, one moment task a week for the whole audience."""
    local = n.pass_until(10, 1)  # the story is on a Tuesday morning here: 每周上新 is due at 10:00
    await n.run_tick("sop_tick")
    await n.run_tick("sop_tick")  # again (a retried job): nothing doubled
    row = await SopOccurrence.get_or_none(playbook="weekly_new_arrivals", occurrence=local.date().isoformat())
    if row is None:  # not its day (the playbook edited): nothing to tell
        return
    n.say(f"{local:%H:%M} — 每周上新: a moment step (action: moment) asks the guides to publish one moment")
    if row.moment_id is None:
        n.show(f"(no moment made: {row.error})")
        return
    moment = await Moment.get(id=row.moment_id)
    n.show(f"{n.count_calls('externalcontact/add_moment_task')} add_moment_task ({moment.name}): 「{moment.text}」 "
           f"+ the library's 会员日 link, visible to customers tagged {'/'.join(moment.tags)}, "
           f"for {len(moment.senders)} guides to publish")
    seen = n.guide_publishes_moment(GUIDE)
    n.show(f"王小美 publishes it in 客户朋友圈: {seen} of her customers can see it; the others have not yet")
    await n.run_tick("campaign_sync")
    n.show("the sync tick reads who published and who could see it; scrm sop report shows it per occurrence:")
    for line in format_moments(await moment_steps(n.now() - timedelta(hours=1), n.now())):
        n.show(line)
    n.show("(each guide's share of moments published is the board metric 朋友圈执行率, SOP moments included)")


async def _seed_history(deps: Deps, count: int = 600) -> int:
    """Synthetic past exposures of 新客旅程 (so both arms of the lift report have customers): the
    treated convert a little more often than the control group, as a working playbook would."""
    rng = random.Random(7)
    playbook = deps.config[PLAYBOOKS].get("new_customer")
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
