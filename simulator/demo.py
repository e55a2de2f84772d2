"""``scrm demo``: the product end to end on the embedded defaults (SQLite, in-process Redis),
against the WeCom simulator, narrated. Nothing to configure; nothing leaves this machine.

This module only starts things and plays the chapters: each feature's ``demo.py`` names one
``chapter(n: Narrator)`` in its feature's ``demo`` slot (bot/feature.py), played in bot/features.py's order.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.app import create_app
from bot.crypto import CallbackCrypto
from bot.feature import attributes
from bot.models.eventlog import EventLog
from config.settings import Settings
from simulator.callbacks import CallbackSender
from simulator.clock import SimFollowingClock
from simulator.narrator import DEMO_SHOP_SECRET, Narrator
from simulator.server import running_simulator
from simulator.state import SimulatorState

__all__ = ["run_demo"]


def _settings(state: SimulatorState, sim_url: str, workdir: Path) -> Settings:
    return Settings(
        _env_file=None,
        wecom_corp_id=state.corp_id,
        wecom_agent_id=state.agent_id,
        wecom_secret=state.secret,
        wecom_token=state.callback_token,
        wecom_aes_key=state.encoding_aes_key,
        wecom_api_base=sim_url,
        database_url=f"sqlite://{workdir}/scrm.sqlite3",
        redis_url="memory://",
        log_level="WARNING",
        scrm_signal_secrets=f"shop={DEMO_SHOP_SECRET.decode()}",
        scrm_intake_endpoints="shop=/signals /intake/orders /intake/chat-archive",
        scrm_robot_keys="HQ群=demo-hq-robot-key",
        scrm_transfer_pause_s=0,
        # The guide's sidebar: WeCom's OAuth page and JS-SDK are the simulator's.
        scrm_sidebar_oauth_base=sim_url,
        scrm_sidebar_jssdk_urls=f"{sim_url}/_sim/jsbridge.js",
        scrm_sidebar_local=True,  # served on the demo's own http://127.0.0.1 address
    )


async def run_demo(*, serve: bool = False, port: int = 8080) -> int:
    """The story; with ``serve`` the app (``port``) and the simulator (``port`` + 10) keep running after it."""
    workdir = Path(tempfile.mkdtemp(prefix="scrm-demo-"))
    state = SimulatorState()
    async with running_simulator(state, port=port + 10 if serve else 0) as sim:
        # The app's clock follows the simulator's, so the story can move to night, morning, next week.
        app = create_app(_settings(state, sim.url, workdir), clock=SimFollowingClock(state.clock))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port if serve else 0)
        await site.start()
        host, bound = runner.addresses[0][:2]
        app_url = f"http://{host}:{bound}"
        try:
            async with aiohttp.ClientSession() as http:
                crypto = CallbackCrypto(state.callback_token, state.encoding_aes_key, state.corp_id)
                sender = CallbackSender(crypto, f"{app_url}/wecom/callback", http,
                                        timestamp_clock=state.clock.now)
                n = Narrator(app, state, sender, http, app_url)
                try:
                    n.say(f"wecom-scrm demo: SQLite + in-process Redis, WeCom played by the simulator at {sim.url}")
                    for chapter in attributes("demo"):  # each feature's chapter, in the order of bot/features.py
                        await chapter(n)
                    await _summary(n)
                    await _serve(n, serve=serve)
                finally:
                    await n.close()
        finally:
            await runner.cleanup()
    print(f"\nDemo data (SQLite) left in {workdir}")
    return 0


async def _summary(n: Narrator) -> None:
    n.say("Summary")
    await n.settle()
    depth = await n.deps.queue.depth()
    n.show(f"events processed (event_log): {await EventLog.all().count()}; queue now: {depth}")
    n.show(f"WeCom API calls made: {n.count_calls()} "
           f"(gettoken {n.count_calls('gettoken')}, externalcontact/get {n.count_calls('externalcontact/get')}, "
           f"send_welcome_msg {n.count_calls('externalcontact/send_welcome_msg')}, "
           f"message/send {n.count_calls('message/send')})")


async def _serve(n: Narrator, *, serve: bool) -> None:
    """The sidebar URL for a desktop browser; with ``serve``, keep everything up until Ctrl-C.

    The phone is left where the sidebar chapter left it: 王小美, in the chat with her customer."""
    n.say("The guide's sidebar in a desktop browser")
    if not serve:
        n.show(f"run `scrm demo --serve`, then open {n.app_url.rsplit(':', 1)[0]}:8080/sidebar/ (the simulator "
               "plays WeCom's OAuth page and JS bridge)")
        return
    n.show(f"open {n.app_url}/sidebar/ — the simulator's OAuth page signs you in as the sidebar chapter's guide, "
           "in the same chat; Ctrl-C stops")
    print(f"\nSidebar: {n.app_url}/sidebar/", flush=True)
    await asyncio.Event().wait()
