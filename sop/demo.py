"""The SOP part of ``make demo``: a customer enters a playbook, the guide's morning digest shows the
task, the guide closes it from the card, and HQ reads the execution rate and the lift report."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from bot.appkeys import DEPS
from bot.demo import say, show, wait_for
from bot.simulator.callbacks import CallbackSender
from bot.simulator.state import SimulatorState
from sop.models import SopTask, TaskStatus
from sop.notify import send_digests
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
    now = deps.clock.now()
    for line in format_execution(await execution_rate(now - timedelta(days=1), now + timedelta(minutes=1)), "guide"):
        show(line)
    for line in format_lift(await lift(deps.config.sop.current, now + timedelta(minutes=1))):
        show(line)
    show("(conversion = an order within the playbook's window after the step; the CI needs both arms)")
