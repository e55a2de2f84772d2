"""The flat-document fast path must read every callback exactly as the C parser does, or step aside.

A WeCom event whose field were read differently (a trimmed ExternalUserID, an unescaped entity)
would route, de-duplicate or tag the wrong customer, so the fast path is checked against expat on
every simulator event shape and on thousands of generated documents, hostile ones included.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from bot.xmlparse import XmlError, parse_flat, parse_with_expat, parse_xml
from simulator import eventxml

CORP = "ww1436e0e65a779aee"

SIMULATOR_EVENTS = {
    "add contact": eventxml.change_external_contact(
        CORP, 1700000000, "add_external_contact", "guide01", "wmEXT", state="store_sh01", welcome_code="W" * 30
    ),
    "del follow user": eventxml.change_external_contact(CORP, 1700000000, "del_follow_user", "guide01", "wmEXT"),
    "group chat with members": eventxml.change_external_chat(
        CORP, 1700000000, "wrCHAT", "update", update_detail="add_member", join_scene=1,
        member_change_list=["wmA", "wmB"], last_mem_ver="1", cur_mem_ver="2",
    ),
    "tag change": eventxml.change_external_tag(CORP, 1700000000, "etTAG", "tag", "create"),
    "text with markup-like content": eventxml.text_message(
        CORP, 1700000000, "guide01", "打标签 <高价值> & ]]> 完成 ]", "123456", 1000002
    ),
    "card click with selections": eventxml.template_card_event(
        CORP, 1700000000, "guide01", event_key="lead:1:done", task_id="t1", response_code="rc",
        card_type="button_interaction", agent_id=1000002, selected_items={"q1": ["o1", "o2"]},
    ),
    "enter agent (empty field)": eventxml.enter_agent(CORP, 1700000000, "guide01", 1000002),
}


def _reference(doc: str) -> Any:
    try:
        return parse_with_expat(doc)
    except XmlError:
        return XmlError


def _fast(doc: str) -> Any:
    try:
        return parse_xml(doc)
    except XmlError:
        return XmlError


@pytest.mark.parametrize("name", list(SIMULATOR_EVENTS))
def test_every_simulator_event_reads_the_same_as_expat(name: str) -> None:
    doc = SIMULATOR_EVENTS[name]
    assert parse_xml(doc) == parse_with_expat(doc)


def test_flat_events_take_the_fast_path_and_nested_ones_do_not() -> None:
    # The fast path must actually carry the common case, or the bench figure is not what runs.
    assert parse_flat(SIMULATOR_EVENTS["add contact"]) is not None
    assert parse_flat(SIMULATOR_EVENTS["enter agent (empty field)"]) == parse_with_expat(
        SIMULATOR_EVENTS["enter agent (empty field)"]
    )
    pretty = "<xml>\n  <ToUserName><![CDATA[ww1]]></ToUserName>\n  <CreateTime>1700000000</CreateTime>\n</xml>\n"
    assert parse_flat(pretty) == parse_with_expat(pretty) == {"ToUserName": "ww1", "CreateTime": "1700000000"}
    assert parse_flat(SIMULATOR_EVENTS["group chat with members"]) is None
    assert parse_flat(SIMULATOR_EVENTS["card click with selections"]) is None


# Pieces a hostile or merely unusual document is made of: markup characters, entity references,
# CDATA terminators, CR (normalised by XML), characters XML forbids, non-ASCII, whitespace.
_PLAIN_PIECES = ["a", "Z", "0", " ", "\n", "\t", "中文", "😀", "'", '"', "=", "/", "wm_EXT-01"]
_HOSTILE_PIECES = ["\r", "\r\n", "<", ">", "&", "&amp;", "&lt;", "&#20013;", "]", "]]", "]]>",
                   "\x00", "\x07", "\x1f", "\ufffe", "\uffff"]
_NAMES = ["ToUserName", "Event", "MsgId", "ExternalUserID", "Item", "a.b", "x-y", "_u", "xml"]
_ODD_NAMES = ["ns:tag", "1bad", "é"]


def _text(rng: random.Random) -> str:
    pieces = [rng.choice(_HOSTILE_PIECES if rng.random() < 0.04 else _PLAIN_PIECES) for _ in range(rng.randint(0, 6))]
    return "".join(pieces)


def _field(rng: random.Random) -> str:
    name = rng.choice(_ODD_NAMES if rng.random() < 0.02 else _NAMES)
    close = name if rng.random() > 0.01 else rng.choice(_NAMES)
    roll = rng.random()
    if roll < 0.5:
        body = f"<![CDATA[{_text(rng)}]]>"
    elif roll < 0.94:
        body = _text(rng)
    elif roll < 0.96:
        body = f"<Item>{_text(rng)}</Item>" * rng.randint(1, 3)
    elif roll < 0.97:
        return f"<{name}/>"
    elif roll < 0.98:
        return f'<{name} attr="{_text(rng)}">{_text(rng)}</{close}>'
    else:
        body = f"<!--{_text(rng)}-->" + _text(rng)
    return f"{rng.choice(['', ' ', chr(10), chr(13) + chr(10), chr(9)])}<{name}>{body}</{close}>"


def _document(rng: random.Random) -> str:
    fields = "".join(_field(rng) for _ in range(rng.randint(0, 8)))
    head = rng.choice(["<xml>"] * 30 + ["<?xml version='1.0'?><xml>", " <xml>", "<XML>", "<xml >"])
    tail = rng.choice(["</xml>"] * 30 + ["</xml>\n", "</xml>x", "", "</xml></xml>", "</XML>"])
    return head + fields + rng.choice(["", "", "", "\n", " junk "]) + tail


def test_generated_documents_read_the_same_as_expat_or_step_aside() -> None:
    rng = random.Random(20261124)
    fast_hits = 0
    for _ in range(6000):
        doc = _document(rng)
        expected = _reference(doc)
        flat = parse_flat(doc)
        if flat is not None:
            fast_hits += 1
            assert flat == expected, doc
        assert _fast(doc) == expected, doc
    assert 1000 < fast_hits < 5000, "the generator must exercise both the fast path and the fallback"


def test_dtd_refused_but_quoting_one_in_a_message_is_just_text() -> None:
    with pytest.raises(XmlError):
        parse_xml('<!DOCTYPE x [<!ENTITY a "b">]><xml><Event>&a;</Event></xml>')
    with pytest.raises(XmlError):
        parse_xml('<xml><!DOCTYPE x><Event>e</Event></xml>')
    # A customer pasting XML into a chat message must not make WeCom's callback bounce (400).
    quoted = "<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[<!ENTITY a 'b'>]]></Content></xml>"
    assert parse_xml(quoted)["Content"] == "<!ENTITY a 'b'>"
