"""A member typing to the app in WeCom, and the app's answer as the member reads it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.crypto import CallbackCrypto
from simulator.callbacks import CallbackSender
from tests.conftest import AES_KEY, CORP_ID, TOKEN
from tests.support.waiting import eventually


def member_chat(sim: Any, callback_url: str, http: Any, userid: str) -> Callable[[str], Awaitable[str]]:
    """``say(text)``: ``userid`` sends ``text`` to the app; returns the last message the app sent back."""
    sender = CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), callback_url, http, clock=sim.state.clock.now)

    async def say(text: str) -> str:
        before = len(sim.state.messages_to(userid))
        await sender.send(sim.state.guide_sends_text(userid, text))
        await eventually(lambda: len(sim.state.messages_to(userid)) > before)
        return str(sim.state.messages_to(userid)[-1].content.get("content", ""))

    return say
