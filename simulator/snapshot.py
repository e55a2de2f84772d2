"""JSON-ready views of the simulator state and its call log (for ``/_sim/`` control endpoints)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from simulator.models import ApiCall, DeliveredMessage, FollowRelation

if TYPE_CHECKING:
    from simulator.state import SimulatorState

__all__ = ["call_view", "message_view", "state_snapshot"]


def call_view(call: ApiCall) -> dict[str, Any]:
    return asdict(call)


def message_view(message: DeliveredMessage) -> dict[str, Any]:
    return asdict(message)


def _relation_view(relation: FollowRelation) -> dict[str, Any]:
    return {
        "userid": relation.userid,
        "remark": relation.remark,
        "state": relation.state,
        "createtime": relation.createtime,
        "add_way": relation.add_way,
        "tag_ids": sorted(relation.tag_ids),
    }


def _contacts_view(state: SimulatorState) -> list[dict[str, Any]]:
    follows: dict[str, list[dict[str, Any]]] = {}
    for by_contact in state.relations.values():
        for external_userid, relation in by_contact.items():
            follows.setdefault(external_userid, []).append(_relation_view(relation))
    return [
        {**asdict(contact), "follow_user": follows.get(contact.external_userid, [])}
        for contact in state.contacts.values()
    ]


def _tag_groups_view(state: SimulatorState) -> list[dict[str, Any]]:
    return [
        {
            "group_id": group.group_id,
            "group_name": group.group_name,
            "order": group.order,
            "deleted": group.deleted,
            "tag": [asdict(tag) for tag in group.tags.values()],
        }
        for group in state.tag_groups.values()
    ]


def state_snapshot(state: SimulatorState, *, include_contacts: bool = True) -> dict[str, Any]:
    """Members, contacts (with each relation's tag ids), tags, messages, welcomes, robots, counts."""
    relation_count = sum(len(by_contact) for by_contact in state.relations.values())
    snapshot: dict[str, Any] = {
        "corp_id": state.corp_id,
        "agent_id": state.agent_id,
        "now": state.now(),
        "clock_offset": state.clock.offset,
        "members": [asdict(member) for member in state.members.values()],
        "tag_groups": _tag_groups_view(state),
        "messages": {
            userid: [message_view(message) for message in messages] for userid, messages in state.messages.items()
        },
        "welcome_messages": [asdict(welcome) for welcome in state.welcome_messages],
        "msg_templates": [asdict(template) for template in state.msg_templates],
        "contact_ways": [asdict(way) for way in state.contact_ways.values()],
        "transfers": [asdict(transfer) for transfer in state.transfers],
        "group_chats": [
            {"chat_id": chat.chat_id, "name": chat.name, "owner": chat.owner, "members": list(chat.members)}
            for chat in state.group_chats.values()
        ],
        "robot_messages": {
            key: [asdict(message) for message in messages] for key, messages in state.robot_messages.items()
        },
        "faults": [fault.as_dict() for fault in state.faults.active],
        "rate_limits": state.rate_limits.limits,
        "counts": {
            "members": len(state.members),
            "contacts": len(state.contacts),
            "relations": relation_count,
            "tagged_relations": sum(
                1 for by_contact in state.relations.values() for rel in by_contact.values() if rel.tag_ids
            ),
            "messages": sum(len(messages) for messages in state.messages.values()),
            "welcome_messages": len(state.welcome_messages),
            "robot_messages": sum(len(messages) for messages in state.robot_messages.values()),
            "calls": len(state.calls),
            "outbox": len(state.outbox),
        },
    }
    if include_contacts:
        snapshot["contacts"] = _contacts_view(state)
    return snapshot
