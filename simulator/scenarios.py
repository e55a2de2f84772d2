"""Named events for ``POST /_sim/events/<kind>``: each changes the state and returns the inner XML
of the callbacks WeCom would send for it (usually one)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from simulator.addressbook import ADDRESS_BOOK_EVENTS
from simulator.qrcodes import scan_contact_way
from simulator.state import SimulatorState

__all__ = ["EVENT_KINDS", "EventKind"]

EventKind = Callable[[SimulatorState, Mapping[str, Any]], list[str]]


def _str(body: Mapping[str, Any], name: str) -> str:
    value = body[name]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _opt_str(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def customer_scans_qr(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return [
        state.customer_scans_qr(
            _str(body, "userid"),
            _opt_str(body, "external_userid"),
            state=_opt_str(body, "state") or "",
            name=_opt_str(body, "name"),
            with_welcome_code=bool(body.get("with_welcome_code", True)),
        )
    ]


def add_half_external_contact(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return [
        state.customer_adds_half(
            _str(body, "userid"), _opt_str(body, "external_userid"), state=_opt_str(body, "state") or ""
        )
    ]


def edit_external_contact(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return [
        state.guide_edits_contact(
            _str(body, "userid"),
            _str(body, "external_userid"),
            remark=_opt_str(body, "remark"),
            add_tag_ids=list(body.get("add_tag_ids", [])),
        )
    ]


def del_external_contact(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return [state.guide_deletes_customer(_str(body, "userid"), _str(body, "external_userid"))]


def del_follow_user(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return [state.customer_deletes_guide(_str(body, "userid"), _str(body, "external_userid"))]


def transfer_refuse(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    state.refuse_transfer(_str(body, "external_userid"), _opt_str(body, "reason") or "customer_refused")
    return state.drain_outbox() + state.settle_transfers()


def settle_transfers(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return state.drain_outbox() + state.settle_transfers(force=bool(body.get("force", False)))


def outbox(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return state.drain_outbox()


def chat_create(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    chat = state.add_group_chat(
        _str(body, "owner"),
        _opt_str(body, "name") or "",
        member_userids=list(body.get("member_userids", [])),
        external_userids=list(body.get("external_userids", [])),
        chat_id=_opt_str(body, "chat_id"),
    )
    return [state.chat_created(chat.chat_id)]


def chat_join(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return [
        state.customer_joins_chat(
            _str(body, "chat_id"), _str(body, "external_userid"), join_scene=int(body.get("join_scene", 3))
        )
    ]


def chat_leave(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return [
        state.customer_leaves_chat(
            _str(body, "chat_id"), _str(body, "external_userid"), quit_scene=int(body.get("quit_scene", 0))
        )
    ]


def chat_dismiss(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return [state.chat_dismissed(_str(body, "chat_id"))]


def tag_create(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return [state.admin_creates_tag(_str(body, "group_name"), _str(body, "tag_name"))]


def tag_delete(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return [state.admin_deletes_tag(_str(body, "tag_id"))]


def text_message(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return [state.guide_sends_text(_str(body, "userid"), _str(body, "content"))]


def card_click(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    selected = body.get("selected_items")
    if selected is not None and not isinstance(selected, dict):
        raise ValueError("selected_items must map question keys to option id lists")
    return [
        state.guide_clicks_card(
            _str(body, "userid"), _str(body, "task_id"), _str(body, "event_key"), selected_items=selected
        )
    ]


def enter_agent(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    return [state.guide_opens_app(_str(body, "userid"))]


def contact_way_scan(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    """A customer scans the contact way ``config_id`` (one of its members gets them)."""
    return [scan_contact_way(state, _str(body, "config_id"), _opt_str(body, "external_userid"),
                             name=_opt_str(body, "name"))]


def raw(state: SimulatorState, body: Mapping[str, Any]) -> list[str]:
    """Any inner XML the caller wrote itself."""
    return [_str(body, "xml")]


EVENT_KINDS: Final[Mapping[str, EventKind]] = MappingProxyType(
    {
        "customer_scans_qr": customer_scans_qr,
        "add_half_external_contact": add_half_external_contact,
        "edit_external_contact": edit_external_contact,
        "del_external_contact": del_external_contact,
        "del_follow_user": del_follow_user,
        "transfer_refuse": transfer_refuse,
        "settle_transfers": settle_transfers,
        "outbox": outbox,
        "chat_create": chat_create,
        "chat_join": chat_join,
        "chat_leave": chat_leave,
        "chat_dismiss": chat_dismiss,
        "tag_create": tag_create,
        "tag_delete": tag_delete,
        "text_message": text_message,
        "card_click": card_click,
        "enter_agent": enter_agent,
        "raw": raw,
        "contact_way_scan": contact_way_scan,
        **ADDRESS_BOOK_EVENTS,
    }
)
