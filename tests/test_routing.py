"""The source is part of the route: what WeCom sends reaches WeCom handlers only, whatever its MsgType."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import aiohttp
import pytest

from bot.app import create_app
from bot.deps import Deps
from bot.dispatch import Dispatcher, Router, feature_routers
from bot.events import Event
from bot.publish import publish
from config.settings import Settings
from tests.conftest import CORP_ID, serve_app
from tests.support.waiting import eventually
from tests.test_ingest import signed

# Internal events and intake sources the product's own handlers take (bot/publish.py, bot/intake.py).
NOT_WECOM = [("internal", "retag_all"), ("internal", "sync_corp_tags"), ("internal", "sop_tick"),
             ("order", ""), ("chat", ""), ("signal", "browse")]


def forged(msg_type: str, event: str) -> str:
    """A callback WeCom signed (or one with WeCom's keys) whose MsgType reads like another source."""
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[guide01]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event><type><![CDATA[{event}]]></type><MsgId>{time.time_ns()}</MsgId></xml>"
    )


@pytest.mark.parametrize(("source", "name"), NOT_WECOM)
def test_a_wecom_msgtype_named_like_another_source_reaches_none_of_its_handlers(source: str, name: str) -> None:
    dispatcher = Dispatcher(feature_routers())
    assert dispatcher.handlers_for(source, (source, name, "")), "the product handles this source"
    assert dispatcher.handlers_for("wecom", (source, name, "")) == ()


def test_on_is_for_other_sources_and_wecom_has_its_own_decorators() -> None:
    router = Router("r")
    with pytest.raises(ValueError, match=r"\.event\(\) or \.message\(\)"):
        router.on("event", "change_external_contact")


async def test_forged_callbacks_run_no_internal_handler_and_a_real_internal_event_does(
    make_settings: Callable[..., Settings],
) -> None:
    calls: Counter[str] = Counter()
    router = Router("spy")

    @router.on("internal", "retag_all")
    async def internal_retag(event: Event, deps: Deps) -> None:
        calls["internal retag_all"] += 1

    @router.on("order")
    async def order(event: Event, deps: Deps) -> None:
        calls["order"] += 1

    @router.message("internal")
    async def odd_wecom_message(event: Event, deps: Deps) -> None:
        calls["wecom MsgType internal"] += 1

    async with (
        serve_app(create_app(make_settings(), role="all", routers=[router])) as app,
        aiohttp.ClientSession() as http,
    ):
        for msg_type, event in (("internal", "retag_all"), ("order", "")):
            async with http.post(app.callback_url, params=(s := signed(forged(msg_type, event)))[0], data=s[1]) as r:
                assert await r.text() == "success"
        await publish(app.deps, "retag_all", {}, "k1")
        await eventually(lambda: calls["internal retag_all"] == 1 and calls["wecom MsgType internal"] == 1)

        async def drained() -> bool:
            return await app.deps.queue.depth() == {"stream": 0, "dead": 0, "retry": 0}

        await eventually(drained)
    assert calls == Counter({"internal retag_all": 1, "wecom MsgType internal": 1})
