"""Inner XML of callbacks exactly as WeCom writes them (PROTOCOL.md section 2).

Strings go in CDATA, numbers (``CreateTime``, ``MsgId``, ``AgentID``, ``JoinScene``…) bare, as in
WeCom's samples. Customer-contact events come from ``sys`` and carry no ``AgentID``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "SYS_SENDER",
    "cdata",
    "change_external_chat",
    "change_external_contact",
    "change_external_tag",
    "enter_agent",
    "template_card_event",
    "text_message",
]

SYS_SENDER = "sys"

Field = tuple[str, str | int | None]


def cdata(value: str) -> str:
    # "]]>" cannot appear inside CDATA: close the section and reopen it around the ">".
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _element(name: str, value: str | int) -> str:
    body = str(value) if isinstance(value, int) else cdata(value)
    return f"<{name}>{body}</{name}>"


def _document(corp_id: str, from_user: str, create_time: int, msg_type: str, fields: Iterable[Field]) -> str:
    parts = [
        _element("ToUserName", corp_id),
        _element("FromUserName", from_user),
        _element("CreateTime", create_time),
        _element("MsgType", msg_type),
    ]
    parts.extend(_element(name, value) for name, value in fields if value is not None)
    return "<xml>" + "".join(parts) + "</xml>"


def change_external_contact(
    corp_id: str,
    create_time: int,
    change_type: str,
    userid: str,
    external_userid: str,
    *,
    state: str | None = None,
    welcome_code: str | None = None,
    source: str | None = None,
    fail_reason: str | None = None,
) -> str:
    """``Event=change_external_contact``: add/edit/add_half/del_external_contact, del_follow_user, transfer_fail."""
    return _document(
        corp_id,
        SYS_SENDER,
        create_time,
        "event",
        [
            ("Event", "change_external_contact"),
            ("ChangeType", change_type),
            ("UserID", userid),
            ("ExternalUserID", external_userid),
            ("State", state),
            ("WelcomeCode", welcome_code),
            ("Source", source),
            ("FailReason", fail_reason),
        ],
    )


def change_external_chat(
    corp_id: str,
    create_time: int,
    chat_id: str,
    change_type: str,
    *,
    update_detail: str | None = None,
    join_scene: int | None = None,
    quit_scene: int | None = None,
    member_change_list: Sequence[str] | None = None,
    last_mem_ver: str | None = None,
    cur_mem_ver: str | None = None,
    state: str | None = None,
) -> str:
    """``Event=change_external_chat``: create / update (with ``UpdateDetail``) / dismiss; ``State``
    is a join way's state when the members came in through one."""
    fields: list[Field] = [
        ("Event", "change_external_chat"),
        ("ChatId", chat_id),
        ("ChangeType", change_type),
        ("UpdateDetail", update_detail),
        ("JoinScene", join_scene),
        ("QuitScene", quit_scene),
        ("State", state),
    ]
    xml = _document(corp_id, SYS_SENDER, create_time, "event", fields)
    if member_change_list is None:
        tail = ""
    else:
        items = "".join(f"<Item>{cdata(member)}</Item>" for member in member_change_list)
        tail = f"<MemChangeCnt>{len(member_change_list)}</MemChangeCnt><MemChangeList>{items}</MemChangeList>"
    tail += "".join(
        _element(name, value) for name, value in (("LastMemVer", last_mem_ver), ("CurMemVer", cur_mem_ver)) if value
    )
    return xml.removesuffix("</xml>") + tail + "</xml>"


def change_external_tag(
    corp_id: str, create_time: int, tag_id: str, tag_type: str, change_type: str, *, strategy_id: int | None = None
) -> str:
    """``Event=change_external_tag``: ``TagType`` tag / tag_group; create / update / delete / shuffle."""
    return _document(
        corp_id,
        SYS_SENDER,
        create_time,
        "event",
        [
            ("Event", "change_external_tag"),
            ("Id", tag_id),
            ("TagType", tag_type),
            ("ChangeType", change_type),
            ("StrategyId", strategy_id),
        ],
    )


def text_message(corp_id: str, create_time: int, from_user: str, content: str, msg_id: str, agent_id: int) -> str:
    """A member typed ``content`` to the app (how guides give chat commands)."""
    return _document(
        corp_id,
        from_user,
        create_time,
        "text",
        [("Content", content), ("MsgId", int(msg_id)), ("AgentID", agent_id)],
    )


def template_card_event(
    corp_id: str,
    create_time: int,
    from_user: str,
    *,
    event_key: str,
    task_id: str,
    response_code: str,
    card_type: str,
    agent_id: int,
    selected_items: dict[str, list[str]] | None = None,
) -> str:
    """A member clicked a template-card button; ``selected_items`` maps question keys to option ids."""
    xml = _document(
        corp_id,
        from_user,
        create_time,
        "event",
        [
            ("Event", "template_card_event"),
            ("EventKey", event_key),
            ("TaskId", task_id),
            ("CardType", card_type),
            ("ResponseCode", response_code),
            ("AgentID", agent_id),
        ],
    )
    if not selected_items:
        return xml
    items = "".join(
        f"<SelectedItem>{_element('QuestionKey', key)}<OptionIds>"
        + "".join(f"<OptionId>{cdata(option)}</OptionId>" for option in options)
        + "</OptionIds></SelectedItem>"
        for key, options in selected_items.items()
    )
    return xml.removesuffix("</xml>") + f"<SelectedItems>{items}</SelectedItems></xml>"


def enter_agent(corp_id: str, create_time: int, from_user: str, agent_id: int) -> str:
    """A member opened the app."""
    return _document(
        corp_id,
        from_user,
        create_time,
        "event",
        [("Event", "enter_agent"), ("EventKey", ""), ("AgentID", agent_id)],
    )
