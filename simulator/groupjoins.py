"""People acting on customer groups in the simulated WeCom: a customer scanning a group code (join way),
an owner making a group or picking its welcome template in the client, a member confirming a group
mass send, someone speaking in a group. Each returns the callbacks WeCom would post.

WeCom puts a scan into the first group of the join way's list that is not full (200 members for
scan joins); when every listed group is full and ``auto_create_room`` is 1 it opens a new group
named ``room_base_name`` + ``room_base_id`` (the number then counts up), owned by the first listed
group's owner, and lists it (in place of the oldest group when 5 are listed already).
"""

from __future__ import annotations

from simulator import eventxml
from simulator.models import ChatMember, GroupChat, GroupWelcomeSent, JoinWay
from simulator.state import SimulatorState

__all__ = [
    "SCAN_FULL",
    "customer_joins_via_way",
    "member_confirms_group_send",
    "owner_creates_group",
    "owner_picks_group_welcome",
    "someone_speaks",
]

SCAN_FULL = 200  # a group scan joins stop at (community sources; invited joins go on to 500)
_LIST_MAX = 5


def _open_group(state: SimulatorState, way: JoinWay) -> GroupChat:
    first = state.group_chats.get(way.chat_id_list[0]) if way.chat_id_list else None
    owner = first.owner if first is not None else next(iter(state.members))
    chat = state.add_group_chat(owner, f"{way.room_base_name}{way.room_base_id}")
    way.room_base_id += 1
    if len(way.chat_id_list) >= _LIST_MAX:
        way.chat_id_list.pop(0)
    way.chat_id_list.append(chat.chat_id)
    return chat


def customer_joins_via_way(
    state: SimulatorState, config_id: str, external_userid: str, *, name: str | None = None
) -> list[str]:
    """A customer scans the join way's code: the callbacks, a group's ``create`` first when WeCom
    had to open one, then ``update``/``add_member`` with ``JoinScene`` 3 and the way's ``State``."""
    way = state.join_ways.get(config_id)
    if way is None:
        raise KeyError(f"no join way {config_id!r} (deleted?)")
    if external_userid not in state.contacts:
        state.add_external_contact(external_userid, name)
    events: list[str] = []
    chat = next((state.group_chats[c] for c in way.chat_id_list
                 if c in state.group_chats and len(state.group_chats[c].members) < SCAN_FULL), None)
    if chat is None:
        if not way.auto_create_room:
            raise KeyError(f"every group of join way {config_id!r} is full")
        chat = _open_group(state, way)
        events.append(state.chat_created(chat.chat_id))
    way.scans += 1
    last_version = chat.version
    now = state.clock.now_int()
    chat.members[external_userid] = ChatMember(external_userid, 2, now, 3, state=way.state)
    chat.version += 1
    events.append(eventxml.change_external_chat(
        state.corp_id, now, chat.chat_id, "update", update_detail="add_member", join_scene=3,
        member_change_list=[external_userid], last_mem_ver=f"{chat.chat_id}:{last_version}",
        cur_mem_ver=f"{chat.chat_id}:{chat.version}", state=way.state or None,
    ))
    template_id = state.group_welcome_choice.get(chat.chat_id)
    template = state.group_welcome_templates.get(template_id or "")
    if template is not None:
        state.group_welcomes_sent.append(
            GroupWelcomeSent(chat.chat_id, external_userid, template.template_id, template.text, state.now())
        )
    return events


def owner_creates_group(state: SimulatorState, owner: str, name: str) -> tuple[GroupChat, str]:
    """A member makes a customer group in the client: the group and its ``create`` callback."""
    chat = state.add_group_chat(owner, name)
    return chat, state.chat_created(chat.chat_id)


def owner_picks_group_welcome(state: SimulatorState, chat_id: str, template_id: str) -> None:
    """The owner sets the group's 入群欢迎语 to a template of the library (client only; no API)."""
    if template_id not in state.group_welcome_templates:
        raise KeyError(f"no group welcome template {template_id!r}")
    state.group_welcome_choice[chat_id] = template_id


def member_confirms_group_send(state: SimulatorState, msgid: str) -> list[str]:
    """The sender confirms a group mass send in the client: it goes to each of their listed groups."""
    template = next(t for t in state.msg_templates if t.msgid == msgid)
    template.sent_at = state.now()
    sent = [c for c in template.chat_ids if c in state.group_chats and state.group_chats[c].owner == template.sender]
    for chat_id in sent:
        state.group_messages.setdefault(chat_id, []).append((template.sender, state.clock.now_int()))
    return sent


def someone_speaks(state: SimulatorState, chat_id: str, sender: str) -> None:
    """A message in the group (what the statistics count; no callback for group chat content)."""
    state.group_messages.setdefault(chat_id, []).append((sender, state.clock.now_int()))
