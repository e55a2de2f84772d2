"""A member typing to the app in WeCom, and the app's answer as the member reads it: the one ``say``."""

from __future__ import annotations

from typing import Any

from bot.crypto import CallbackCrypto
from simulator.callbacks import CallbackSender
from tests.conftest import AES_KEY, CORP_ID, TOKEN, RunningApp, Stack
from tests.support.waiting import eventually


def stack_of(app: RunningApp, sim: Any, http: Any) -> Stack:
    """A Stack over an app served another way (the sidebar's world): callbacks signed as WeCom signs them."""
    sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), app.callback_url, http)
    return Stack(app, sim, sender, http)


async def say(stack: Stack, userid: str, text: str, *, msgtype: str | None = None) -> str:
    """``userid`` types ``text`` to the app; every message the app sent back (joined), once one came
    (of ``msgtype``, when given: a code's image comes with its text)."""
    before = len(stack.state.messages_to(userid))
    await stack.deliver(stack.state.guide_sends_text(userid, text))
    await stack.settle()
    await eventually(lambda: any(msgtype in (None, m.msgtype) for m in stack.state.messages_to(userid)[before:]))
    return "\n".join(str(m.content.get("content", "")) for m in stack.state.messages_to(userid)[before:])
