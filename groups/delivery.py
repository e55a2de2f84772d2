"""Group playbooks (群 SOP): each due step pushed to the targeted groups, one push per owner — a group
mass send (``add_msg_template`` with ``chat_type`` group, ``sender`` the owner, ≤ 2,000 groups) the
owner confirms in the client, or a task the owner sends from the sidebar's group view — and the mass
sends' results read back with ``get_groupmsg_task`` / ``get_groupmsg_send_result`` (we keep the msgid).

A step is due ``day`` days after its trigger's occurrence, at ``at`` local time (a new group's day-0
step at once). Each sweep looks back ``scrm_sop_catchup_hours``; a push is made once per (playbook,
step, occurrence, owner) whatever the number of sweeps or workers (a unique row, then the send-once
outbox around the WeCom call).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from tortoise.exceptions import IntegrityError

from bot.deps import Deps
from bot.outbox import send_once_or_skip
from bot.wecom.errors import WeComPermanentError
from customers.models import GroupChat, Guide
from groups import wecomapi
from groups.config import GROUPS, GroupPlaybook, GroupStep, GroupTarget
from groups.kinds import TRIGGERS, Occurrence
from groups.materials import attachment_body
from groups.models import GroupCodeChat, GroupPush

__all__ = ["GROUPS_PER_PUSH", "TEMPLATES", "due_at", "mark_task_sent", "run_pushes", "sync_push_results",
           "target_chats"]

log = structlog.get_logger(__name__)

GROUPS_PER_PUSH = 2000  # chat_id_list of one group mass send
RESULTS_FOR = timedelta(days=30)  # how long a push's results are still read
TEMPLATES = ("group_task_notice",)
MASS, TASK = "mass", "task"


def due_at(occurrence: Occurrence, step: GroupStep, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    if not occurrence.dated and step.day == 0:
        return occurrence.anchor
    day = occurrence.anchor.astimezone(zone).date() + timedelta(days=step.day)
    return datetime.combine(day, step.at, zone)


async def target_chats(target: GroupTarget, only: tuple[str, ...] | None = None) -> dict[str, list[str]]:
    """owner → their live groups the target covers (a store's groups: those of its codes and those its
    members own; a code's groups), optionally within ``only``."""
    chats = GroupChat.filter(dismissed_at__isnull=True)
    if only is not None:
        chats = chats.filter(chat_id__in=list(only))
    live = {c.chat_id: c.owner_userid for c in await chats}
    chosen: set[str] = set()
    if target.everything:
        chosen = set(live)
    if target.stores or target.codes:
        links = await GroupCodeChat.filter(chat_id__in=list(live)).prefetch_related("code", "code__store")
        for link in links:
            store = link.code.store.code if link.code.store else ""
            if store in target.stores or link.code.name in target.codes:
                chosen.add(link.chat_id)
    if target.stores:
        owners = {str(u) for u in await Guide.filter(store__code__in=list(target.stores), active=True)
                  .values_list("userid", flat=True)}
        chosen |= {chat_id for chat_id, owner in live.items() if owner in owners}
    by_owner: dict[str, list[str]] = defaultdict(list)
    for chat_id in sorted(chosen):
        by_owner[live[chat_id]].append(chat_id)
    return dict(by_owner)


async def _store_name(owner: str) -> str:
    guide = await Guide.get_or_none(userid=owner).prefetch_related("store")
    return guide.store.name if guide is not None and guide.store is not None else ""


async def _push(deps: Deps, playbook: GroupPlaybook, step: GroupStep, occurrence: Occurrence, owner: str,
                chat_ids: list[str], due: datetime) -> bool:
    if len(chat_ids) > GROUPS_PER_PUSH:
        log.warning("group_push_truncated", playbook=playbook.id, owner=owner, groups=len(chat_ids))
        chat_ids = chat_ids[:GROUPS_PER_PUSH]
    text = step.text.format_map({"store": await _store_name(owner), "code": ""})
    try:
        push = await GroupPush.create(playbook=playbook.id, step=step.id, occurrence=occurrence.key[:96],
                                      owner_userid=owner, mode=step.mode, chat_ids=chat_ids, text=text, due_at=due,
                                      created_at=deps.clock.now())
    except IntegrityError:
        push = await GroupPush.get(playbook=playbook.id, step=step.id, occurrence=occurrence.key[:96],
                                   owner_userid=owner)
        if push.mode != MASS or push.msgid:
            return False  # made already (another sweep, another worker)

    if step.mode == MASS:
        async def send() -> None:
            attachment = await attachment_body(deps, step.attachment)
            attachments = [{"msgtype": attachment[0], attachment[0]: attachment[1]}] if attachment else []
            msgid = await wecomapi.add_group_msg(deps, owner, push.chat_ids, push.text, attachments)
            await GroupPush.filter(id=push.id).update(msgid=msgid)

        sent = await send_once_or_skip(f"gpush:{push.id}", "group_push", owner, send, deps.clock)
    else:
        notice = deps.config.templates.render("group_task_notice", name=playbook.name, count=len(chat_ids),
                                              text=text)

        async def tell() -> None:
            await deps.wecom.send_text([owner], notice)

        sent = await send_once_or_skip(f"gtask:{push.id}", "group_task", owner, tell, deps.clock)
    log.info("group_push_made", playbook=playbook.id, step=step.id, occurrence=occurrence.key, owner=owner,
             mode=step.mode, groups=len(chat_ids), sent=sent)
    return sent


async def run_pushes(deps: Deps) -> int:
    """Every group step due since the last sweeps, pushed once per owner; the number of pushes made."""
    now = deps.clock.now()
    tz = deps.settings.scrm_timezone
    catchup = timedelta(hours=deps.settings.scrm_sop_catchup_hours)
    made = 0
    for playbook in deps.config[GROUPS].playbooks:
        reach = timedelta(days=max(step.day for step in playbook.steps) + 1)
        occurrences = await TRIGGERS[playbook.trigger_type].occurrences(
            playbook.trigger_params, now - catchup - reach, now, tz)
        for occurrence in occurrences:
            due_steps = [(s, due_at(occurrence, s, tz)) for s in playbook.steps]
            due_steps = [(s, due) for s, due in due_steps if now - catchup < due <= now]
            if not due_steps:
                continue
            chats = await target_chats(playbook.target, occurrence.chat_ids)
            for step, due in due_steps:
                for owner, chat_ids in chats.items():
                    made += await _push(deps, playbook, step, occurrence, owner, chat_ids, due)
    return made


async def sync_push_results(deps: Deps) -> int:
    """Read back whether each recent group mass send went out and to how many groups; pushes updated."""
    since = deps.clock.now() - RESULTS_FOR
    updated = 0
    for push in await GroupPush.filter(mode=MASS, created_at__gte=since).exclude(msgid=""):
        try:
            tasks = await wecomapi.groupmsg_task(deps, push.msgid)
            results = await wecomapi.groupmsg_send_result(deps, push.msgid, push.owner_userid)
        except WeComPermanentError as err:
            log.warning("group_push_results_refused", push=push.id, errcode=err.errcode)
            continue
        sent_at = next((t.get("send_time") for t in tasks
                        if t.get("userid") == push.owner_userid and int(t.get("status", 0)) == 2), None)
        push.sent_at = datetime.fromtimestamp(int(sent_at), ZoneInfo("UTC")) if sent_at else None
        push.sent_chats = sum(1 for r in results if int(r.get("status", 0)) == 1)
        push.synced_at = deps.clock.now()
        await push.save(update_fields=["sent_at", "sent_chats", "synced_at"])
        updated += 1
    log.info("group_push_results_synced", pushes=updated)
    return updated


async def mark_task_sent(deps: Deps, push_id: int, owner: str, chat_id: str) -> bool:
    """The owner sent a task's text into one of its groups from the sidebar; False: not theirs, or sent."""
    push = await GroupPush.get_or_none(id=push_id, owner_userid=owner, mode=TASK)
    if push is None or chat_id not in push.chat_ids or chat_id in push.sent_chat_ids:
        return False
    push.sent_chat_ids = [*push.sent_chat_ids, chat_id]
    push.sent_chats = len(push.sent_chat_ids)
    push.sent_at = push.sent_at or deps.clock.now()
    await push.save(update_fields=["sent_chat_ids", "sent_chats", "sent_at"])
    log.info("group_task_sent", push=push.id, chat_id=chat_id)
    return True
