"""The customer-group chapter of ``make demo``: a store's group code made in WeCom, a group filled to
the mark and rolled over, and one weekly group step pushed to the store's groups."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from groups.config import GROUPS
from groups.delivery import TASK, mark_task_sent, run_pushes, sync_push_results
from groups.models import GroupCode, GroupCodeChat, GroupPush
from groups.report import group_figures
from groups.service import store_code_state, sync_codes

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]


async def chapter(n: Narrator) -> None:
    """The demo chapter (bot/features.py)."""
    deps = n.deps
    full_at = deps.config[GROUPS].group_full_at
    n.say("杭州湖滨店's manager runs two member groups; the first has been busy for months")
    first = await n.owner_creates_group("manager_hz01", "湖滨店会员1群")
    await n.owner_creates_group("manager_hz01", "湖滨店会员2群")
    n.group_had_members(first, full_at - 5)
    # The scheduler sweeps every minute; the demo sweeps now so the story does not depend on its timing.
    await n.run_tick("group_push")
    hellos = await GroupPush.filter(owner_userid="manager_hz01", mode=TASK).order_by("id")
    n.show(f"新群破冰: {len(hellos)} icebreaker tasks wait in 刘店长's sidebar (one per new group)")
    for hello in hellos:
        await mark_task_sent(deps, hello.id, hello.owner_userid, hello.chat_ids[0])
    n.show(f"刘店长 sends them from the sidebar's group view: "
           f"{await GroupPush.filter(owner_userid='manager_hz01', mode=TASK, sent_at__not_isnull=True).count()} sent")

    n.say("Group codes are WeCom join ways (scrm groups codes sync): one per store, a state each")
    made = await sync_codes(deps)
    n.show(f"{made.created} group codes created ({n.count_calls('externalcontact/groupchat/add_join_way')} "
           f"add_join_way calls); welcome templates: {made.welcomes.created if made.welcomes else 0}")
    for name in made.skipped:
        n.show(f"  {name}: waits for its owner's first group (WeCom lists only existing groups)")
    code = await GroupCode.get(state=store_code_state("hz01"))
    assert code.config_id is not None
    n.show(f"  {code.name}: state={code.state}, lists {n.join_way_groups(code.config_id)}")
    again = await sync_codes(deps)
    n.show(f"synced again: {again.created} created, {again.unchanged} unchanged")

    n.say(f"Shoppers scan the code: at {full_at} members the first group leaves the list")
    for i in range(8):
        await n.customer_joins_group(code.config_id, f"wmGroupDemo{i:02d}", f"群客户{i}")
    rolled = await GroupCodeChat.get(chat_id=first)
    n.show(f"now lists {n.join_way_groups(code.config_id)}")
    if rolled.full_at and rolled.unlisted_at:
        seconds = (rolled.unlisted_at - rolled.full_at).total_seconds()
        n.show(f"湖滨店会员1群 reached {rolled.members} at the callback and left the list {seconds:.1f} s later")

    n.say("Friday 10:00: the weekly group step goes to the store's groups, one mass send per owner")
    n.pass_until(0, 5)
    n.pass_time(timedelta(days=(4 - n.local_now().weekday()) % 7))  # to Friday (weekday 4)
    n.pass_until(10, 1)
    pushed = await run_pushes(deps)
    push = await GroupPush.filter(owner_userid="manager_hz01").order_by("-id").first()
    if push is not None and push.msgid:
        n.show(f"{pushed} pushes; 刘店长's add_msg_template (chat_type group) to {len(push.chat_ids)} groups: "
               f"「{push.text}」")
        sent = n.owner_confirms_group_send(push.msgid)
        await sync_push_results(deps)
        n.show(f"刘店长 confirms in the client: sent to {sent} groups; read back with get_groupmsg_*")
    day = n.local_now().date()
    stores, _ = await group_figures(day - timedelta(days=7), day, deps.settings.scrm_timezone)
    for row in stores:
        n.show(f"  {row.name}: joins through codes {row.joins_by_code}, pushes sent {row.pushes_sent}/{row.pushes}, "
               f"groups reached {row.groups_reached}")
