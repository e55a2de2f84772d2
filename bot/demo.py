"""``scrm demo``: the product end to end on the embedded defaults (SQLite, in-process Redis),
against the WeCom simulator, narrated. Nothing to configure; nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

from bot.app import create_app
from bot.appkeys import DEPS
from bot.crypto import CallbackCrypto
from bot.demokit import DEMO_SHOP_SECRET, DemoRun, say, show, wait_for
from bot.features import attributes
from bot.intake import signed_headers
from bot.models.eventlog import EventLog
from config.settings import Settings
from customers.models import Customer, Relationship, Signal, Tag
from customers.orders import OrderIn, record_orders
from sidebar.demo import open_sidebar_chat, sidebar_story
from simulator.callbacks import CallbackSender
from simulator.clock import SimFollowingClock
from simulator.server import SimulatorServer, running_simulator
from simulator.state import SimulatorState
from tagging.report import explain_customer
from tagging.service import retag_everyone

__all__ = ["run_demo"]


async def serve_sidebar(state: SimulatorState, app_url: str, *, serve: bool) -> None:
    """The sidebar URL for a desktop browser; with ``serve``, keep everything up until Ctrl-C."""
    say("The guide's sidebar in a desktop browser")
    if not serve:
        show(f"run `scrm demo --serve`, then open {app_url.rsplit(':', 1)[0]}:8080/sidebar/ (the simulator plays "
             "WeCom's OAuth page and JS bridge)")
        return
    await open_sidebar_chat(state)
    show(f"open {app_url}/sidebar/ — signed in as 王小美 through the simulator's OAuth page, in a chat with "
         "her best customer; Ctrl-C stops")
    print(f"\nSidebar: {app_url}/sidebar/", flush=True)
    await asyncio.Event().wait()

async def run_demo(*, serve: bool = False, port: int = 8080) -> int:
    """The story; with ``serve`` the app (``port``) and the simulator (``port`` + 10) keep running after it."""
    workdir = Path(tempfile.mkdtemp(prefix="scrm-demo-"))
    state = SimulatorState()
    async with running_simulator(state, port=port + 10 if serve else 0) as sim:
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
            scrm_signal_secrets=f"shop={DEMO_SHOP_SECRET.decode()}",
            scrm_robot_keys="HQ群=demo-hq-robot-key",
            scrm_transfer_pause_s=0,
            # The guide's sidebar: WeCom's OAuth page and JS-SDK are the simulator's.
            scrm_sidebar_oauth_base=sim.url,
            scrm_sidebar_jssdk_urls=f"{sim.url}/_sim/jsbridge.js",
        )
        # The app's clock follows the simulator's, so the story can move to night and morning.
        app = create_app(settings, clock=SimFollowingClock(state.clock))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port if serve else 0)
        await site.start()
        host, bound = runner.addresses[0][:2]
        url = f"http://{host}:{bound}/wecom/callback"
        try:
            async with aiohttp.ClientSession() as http:
                await _story(app, sim, state, url, http)
            await sidebar_story(state, f"http://{host}:{bound}", say, show)
            await serve_sidebar(state, f"http://{host}:{bound}", serve=serve)
        finally:
            await runner.cleanup()
    print(f"\nDemo data (SQLite) left in {workdir}")
    return 0


def _wecom_tags(state: SimulatorState, userid: str, external_userid: str) -> str:
    names = sorted(state.tags[t].name for t in state.tag_ids_of(userid, external_userid))
    return "、".join(names) or "（无）"


async def _tagging_story(
    app: web.Application, state: SimulatorState, sender: CallbackSender, url: str, http: aiohttp.ClientSession
) -> None:
    deps = app[DEPS]
    now = deps.clock.now()
    say("The shop sends 周小姐's orders (signed POST /intake/orders)")
    orders = [
        {"order_id": f"DEMO-{i}", "external_userid": "wmDemoZhou01", "amount": amount,
         "paid_at": (now - timedelta(days=days)).isoformat(), "store_code": "sh01"}
        for i, (days, amount) in enumerate(((60, "640"), (40, "900"), (12, "800")))
    ]
    body = orjson.dumps({"orders": orders})
    headers = signed_headers("shop", DEMO_SHOP_SECRET, body, deps.clock.timestamp())
    async with http.post(url.replace("/wecom/callback", "/intake/orders"), data=body, headers=headers) as resp:
        result = await resp.json()
    show(f"HTTP {resp.status}: {result['accepted']} accepted — queued, stored, customer aggregates updated")

    say("She browsed 拖鞋 three times this week (shop signals), and a dormant customer is in the base")
    customer = await Customer.get(external_userid="wmDemoZhou01")
    for i in range(3):
        await Signal.create(event_id=f"demo-browse-{i}", type="browse", customer=customer,
                            external_userid=customer.external_userid, category="拖鞋", product_id="SKU-SLIPPER-01",
                            occurred_at=now - timedelta(days=i + 1))
    state.add_member("guide_hz01_a", "陈静")
    await sender.send(state.customer_scans_qr("guide_hz01_a", "wmDemoSleep1", state="store_hz01", name="吴先生"))
    await wait_for(lambda: Customer.filter(external_userid="wmDemoSleep1").exists())
    sleeper = await Customer.get(external_userid="wmDemoSleep1")
    await record_orders([OrderIn("DEMO-OLD-1", Decimal("299"), now - timedelta(days=230), "wmDemoSleep1")])

    say("The nightly re-tag runs (scrm tags retag): set-based rules → diff → mark_tag to WeCom")
    run = await retag_everyone(deps)
    show(f"{run.retag.desired} rule tags desired; {run.sync.mark_tag_calls if run.sync else 0} mark_tag calls now "
         "(one per changed guide–customer relation; the event-driven re-tags after each scan and order "
         f"had pushed theirs already), {run.sync.failed if run.sync else 0} failed")
    for who, userid, external_userid in (("周小姐", "guide_sh01_a", "wmDemoZhou01"),
                                         ("吴先生", "guide_hz01_a", sleeper.external_userid)):
        show(f"{who} — why (scrm tags explain {external_userid}):")
        for line in (await explain_customer(deps.config.tag_rules, external_userid))[1:]:
            show(f"  {line}")
        show(f"  in WeCom (simulator) on {userid}'s profile: {_wecom_tags(state, userid, external_userid)}")
    again = await retag_everyone(deps)
    show(f"re-tag again with nothing changed: {again.retag.pending_relations} relations to sync, "
         "no mark_tag calls")


async def _story(
    app: web.Application, sim: SimulatorServer, state: SimulatorState, url: str, http: aiohttp.ClientSession
) -> None:
    crypto = CallbackCrypto(state.callback_token, state.encoding_aes_key, state.corp_id)
    sender = CallbackSender(crypto, url, http, clock=state.clock.now, timestamp_clock=state.clock.now)
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

    await _tagging_story(app, state, sender, url, http)

    say("Weeks later 周小姐 deletes 王小美 from her WeChat (流失)")
    await sender.send(state.customer_deletes_guide("guide_sh01_a", "wmDemoZhou01"))
    await wait_for(lambda: bool(state.messages_to("manager_sh01")))
    for userid in ("guide_sh01_a", "manager_sh01"):
        for message in state.messages_to(userid):
            show(f"app message to {userid}:")
            for line in str(message.content.get("content", "")).splitlines():
                show(f"  {line}")

    async def settle() -> None:
        async def idle() -> bool:
            depth = await deps.queue.depth()
            return depth["stream"] == 0 and depth["retry"] == 0

        await wait_for(idle)

    run = DemoRun(app, state, sender, http, url, settle)
    for chapter in attributes("demo"):  # each feature's chapter, in the feature table's order
        await chapter(run)

    say("Summary")

    await settle()
    depth = await deps.queue.depth()
    show(f"events processed (event_log): {await EventLog.all().count()}; queue now: {depth}")
    show(f"WeCom API calls made: {len(state.calls)} "
         f"(gettoken {state.count_calls('gettoken')}, externalcontact/get "
         f"{state.count_calls('externalcontact/get')}, send_welcome_msg "
         f"{state.count_calls('externalcontact/send_welcome_msg')}, message/send {state.count_calls('message/send')})")
