"""``scrm demo``: the product end to end on the embedded defaults (SQLite, in-process Redis),
against the WeCom simulator, narrated. Nothing to configure; nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.app import create_app
from bot.appkeys import DEPS
from bot.crypto import CallbackCrypto
from bot.models.customers import Customer, Relationship, Tag
from bot.models.eventlog import EventLog
from bot.simulator.callbacks import CallbackSender
from bot.simulator.server import SimulatorServer, running_simulator
from bot.simulator.state import SimulatorState
from config.settings import Settings

__all__ = ["run_demo"]


def say(title: str) -> None:
    print(f"\n== {title}")


def show(line: str) -> None:
    print(f"   {line}")


async def wait_for(check: Callable[[], bool | Awaitable[bool]], within: float = 10.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < within:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return time.perf_counter() - started
        await asyncio.sleep(0.01)
    raise TimeoutError("the demo waited too long: is the worker running?")


async def run_demo() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="scrm-demo-"))
    state = SimulatorState()
    async with running_simulator(state) as sim:
        settings = Settings(
            _env_file=None,
            wecom_corp_id=state.corp_id,
            wecom_agent_id=state.agent_id,
            wecom_secret=state.secret,
            wecom_token=state.callback_token,
            wecom_aes_key=state.encoding_aes_key,
            wecom_api_base=sim.url,
            database_url=f"sqlite://{workdir}/scrm.sqlite3",
            redis_url="memory://",
            log_level="WARNING",
        )
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}/wecom/callback"
        try:
            async with aiohttp.ClientSession() as http:
                await _story(app, sim, state, url, http)
        finally:
            await runner.cleanup()
    print(f"\nDemo data (SQLite) left in {workdir}")
    return 0


async def _story(
    app: web.Application, sim: SimulatorServer, state: SimulatorState, url: str, http: aiohttp.ClientSession
) -> None:
    crypto = CallbackCrypto(state.callback_token, state.encoding_aes_key, state.corp_id)
    sender = CallbackSender(crypto, url, http, clock=state.clock.now)
    deps = app[DEPS]

    say("wecom-scrm demo: SQLite + in-process Redis, WeCom played by the simulator at " + sim.url)
    verification = await sender.verify_url("demo-echo-1288432023552776189")
    show(f"URL verification: WeCom sent an encrypted echostr, we answered {verification.body!r} "
         f"(HTTP {verification.status})")

    state.add_member("guide_sh01_a", "王小美")
    state.add_member("manager_sh01", "张店长")

    say("A shopper scans the 南京西路店 QR code of guide 王小美")
    scan = state.customer_scans_qr("guide_sh01_a", "wmDemoZhou01", state="store_sh01", name="周小姐")
    started = time.perf_counter()
    report = await sender.send(scan)
    show(f"WeCom → POST /wecom/callback (signed, AES-encrypted): HTTP {report.statuses[-1]} "
         f"'success' in {report.elapsed * 1000:.1f} ms — verified, decrypted, de-duplicated, queued")
    await wait_for(lambda: bool(state.welcome_messages))
    show(f"worker: fetched the contact, sent the welcome {1000 * (time.perf_counter() - started):.0f} ms "
         "after the callback (the welcome code lives ~20 s):")
    show(f"  「{state.welcome_messages[0].text}」")
    # Written just after the welcome, which goes first.
    await wait_for(lambda: Relationship.filter(customer__external_userid="wmDemoZhou01").exists())
    customer = await Customer.get(external_userid="wmDemoZhou01")
    relationship = await Relationship.get(customer=customer).prefetch_related("channel", "guide")
    show(f"database: customer {customer.name} ↔ guide {relationship.guide.name}, channel "
         f"{relationship.channel.name if relationship.channel else '-'} (state={relationship.state})")

    say("WeCom did not hear us in time and re-sends the same callback twice")
    for _ in range(2):
        again = await sender.send(scan)
        show(f"re-send answered HTTP {again.statuses[-1]}: recognised as a duplicate, not queued")
    await asyncio.sleep(0.3)
    show(f"welcome messages sent in total: {len(state.welcome_messages)} (one, as it must be)")

    say("Someone posts a forged callback")
    params, body = crypto.encrypted_callback(scan, str(int(time.time())))
    async with http.post(url, params=params | {"msg_signature": "0" * 40}, data=body) as resp:
        show(f"forged signature → HTTP {resp.status} {await resp.text()!r}; nothing stored, server still serving")

    say("HQ adds a tag 兴趣/拖鞋 in the WeCom console")
    await sender.send(state.admin_creates_tag("兴趣", "拖鞋"))
    await wait_for(lambda: Tag.filter(name="拖鞋").exists())
    show("change_external_tag → get_corp_tag_list → the local tag mirror now has 兴趣/拖鞋")

    say("Weeks later 周小姐 deletes 王小美 from her WeChat (流失)")
    await sender.send(state.customer_deletes_guide("guide_sh01_a", "wmDemoZhou01"))
    await wait_for(lambda: bool(state.messages_to("manager_sh01")))
    for userid in ("guide_sh01_a", "manager_sh01"):
        for message in state.messages_to(userid):
            show(f"app message to {userid}:")
            for line in str(message.content.get("content", "")).splitlines():
                show(f"  {line}")

    say("Summary")

    async def drained() -> bool:
        return (await deps.queue.depth())["stream"] == 0

    await wait_for(drained)
    depth = await deps.queue.depth()
    show(f"events processed (event_log): {await EventLog.all().count()}; queue now: {depth}")
    show(f"WeCom API calls made: {len(state.calls)} "
         f"(gettoken {state.count_calls('gettoken')}, externalcontact/get "
         f"{state.count_calls('externalcontact/get')}, send_welcome_msg "
         f"{state.count_calls('externalcontact/send_welcome_msg')}, message/send {state.count_calls('message/send')})")
