"""The demo's narrator: the one object every chapter of ``scrm demo`` is given.

It offers the story's actions at the level a reader follows them — a customer scans a code or
deletes a guide, the shop sends orders, a guide writes to the app or taps a card, time passes on
the simulator's clock, what a guide or HQ's robot received — and says and shows lines. Under it
are the running app, the WeCom simulator and real HTTP; a feature's ``demo.py`` calls only this
object and its own feature's services (CONTRIBUTING.md: a demo chapter).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import aiohttp
import orjson
from aiohttp import web

from bot.appkeys import DEPS
from bot.deps import Deps
from bot.feature import attributes
from bot.intake import signed_headers
from bot.scheduler import Schedule, fire
from simulator.addressbook import add_department
from simulator.apis.acquisition import customer_opens_link, guide_adds_by_phone
from simulator.apis.groupmsg import guide_sends_mass
from simulator.apis.moments import guide_publishes_moment
from simulator.callbacks import CallbackSender
from simulator.clock import SimFollowingClock
from simulator.groupjoins import customer_joins_via_way, member_confirms_group_send, owner_creates_group
from simulator.jsbridge import play_config, play_invoke
from simulator.models import ChatMember, DeliveredMessage, RobotMessage
from simulator.qrcodes import scan_contact_way
from simulator.state import SimulatorState

__all__ = ["DEMO_SHOP_SECRET", "Callback", "Narrator", "Phone"]

DEMO_SHOP_SECRET = b"demo-shop-secret"


@dataclass(frozen=True, slots=True)
class Callback:
    """One callback WeCom made: its inner XML (to re-send it), HTTP status and time to answer."""

    xml: str
    status: int | None
    elapsed: float


class Phone:
    """A member's phone in WeCom's in-app browser: cookies, WeCom's OAuth page and the JS bridge
    (both played by the simulator). Open it with ``Narrator.phone``."""

    def __init__(self, state: SimulatorState, app_url: str, http: aiohttp.ClientSession) -> None:
        self._state = state
        self._http = http
        self.app_url = app_url

    async def open(self, path: str) -> str:
        """Load a page of the app, following its OAuth redirects through WeCom; the page's HTML."""
        url = f"{self.app_url}{path}"
        for _ in range(4):
            async with self._http.get(url, allow_redirects=False) as resp:
                if resp.status != 302:
                    return await resp.text()
                url = urljoin(url, resp.headers["Location"].split("#")[0])
        raise RuntimeError(f"{path} did not settle after four redirects")

    async def get_json(self, path: str, params: Mapping[str, str]) -> Any:
        async with self._http.get(f"{self.app_url}{path}", params=params) as resp:
            return await resp.json()

    async def post_json(self, path: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> Any:
        async with self._http.post(f"{self.app_url}{path}", json=body, headers=headers) as resp:
            return await resp.json() if resp.content_type == "application/json" else await resp.text()

    def bridge_config(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``wx.config`` / ``wx.agentConfig`` as WeCom's client plays them."""
        return play_config(self._state, body)

    def bridge_invoke(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``wx.invoke(api, params)`` as WeCom's client plays it in the open chat."""
        return play_invoke(self._state, body)

    @property
    def last_sent(self) -> str:
        """What the member last sent into the chat from the page."""
        return str(self._state.browser.sent[-1].payload.get("content", ""))


class Narrator:
    """The story's actions, said and shown; see the module docstring."""

    def __init__(
        self, app: web.Application, state: SimulatorState, sender: CallbackSender, http: aiohttp.ClientSession,
        app_url: str,
    ) -> None:
        self.app = app
        self._state = state
        self._sender = sender
        self.http = http
        self.app_url = app_url  # http://host:port of the app
        self._phone_http: aiohttp.ClientSession | None = None

    @property
    def deps(self) -> Deps:
        return self.app[DEPS]

    # --- saying -------------------------------------------------------------------------------

    @staticmethod
    def say(title: str) -> None:
        """A chapter's heading: what happens next."""
        print(f"\n== {title}", flush=True)

    @staticmethod
    def show(line: str) -> None:
        """What came of it."""
        print(f"   {line}", flush=True)

    def show_text(self, text: str, *, indent: str = "  ", limit: int = 0) -> None:
        """A message as its reader sees it, line by line (the first ``limit`` lines, if given)."""
        lines = text.splitlines()
        for line in lines[:limit] if limit else lines:
            self.show(f"{indent}{line}")
        if limit and len(lines) > limit:
            self.show(f"{indent}… ({len(lines) - limit} more lines)")

    # --- time -----------------------------------------------------------------------------------

    @property
    def _clock(self) -> SimFollowingClock:
        clock = self.deps.clock
        assert isinstance(clock, SimFollowingClock)  # the runner gives the app the simulator's clock
        return clock

    def now(self) -> datetime:
        """Now on the simulator's clock (UTC), which the app's clock follows."""
        return self._clock.now()

    def local_now(self) -> datetime:
        return self.now().astimezone(ZoneInfo(self.deps.settings.scrm_timezone))

    def pass_time(self, delta: timedelta) -> datetime:
        """Time passes for WeCom and the app at once."""
        self._clock.advance(delta)
        return self.local_now()

    def pass_until(self, hour: int, minute: int = 0) -> datetime:
        """Time passes until the next hh:mm local time (at least a minute ahead)."""
        self._clock.advance_to_local(hour, minute, self.deps.settings.scrm_timezone)
        return self.local_now()

    async def run_tick(self, name: str) -> None:
        """A scheduled job comes due now (the demo does not wait for the scheduler's real clock)."""
        schedules: list[Schedule] = [s for s in attributes("ticks") if s.name == name]
        if not schedules:
            raise KeyError(f"no tick named {name!r} in any feature's ticks")
        await fire(self.deps, schedules[0].tick(self.deps.settings))
        await self.settle()

    # --- waiting for the app ------------------------------------------------------------------------

    @staticmethod
    async def wait_for(check: Callable[[], bool | Awaitable[bool]], within: float = 10.0) -> float:
        """Until ``check`` holds; the seconds it took."""
        started = time.perf_counter()
        while time.perf_counter() - started < within:
            result = check()
            if not isinstance(result, bool):
                result = await result
            if result:
                return time.perf_counter() - started
            await asyncio.sleep(0.01)
        raise TimeoutError("the demo waited too long: is the worker running?")

    async def settle(self) -> None:
        """Until the worker has done everything queued (and every retry)."""
        async def idle() -> bool:
            depth = await self.deps.queue.depth()
            return depth["stream"] == 0 and depth["retry"] == 0

        await self.wait_for(idle)

    # --- WeCom's address book and console ----------------------------------------------------------

    def add_member(self, userid: str, name: str, *, department: Sequence[int] = ()) -> None:
        """A member (guide, manager, operator) in WeCom's address book; with ``department``, moved there."""
        if userid in self._state.members:
            self._state.members[userid].department = list(department)
        else:
            self._state.add_member(userid, name, department=list(department) or (1,))

    def add_department(self, department_id: int, name: str, *, parent: int = 1, leaders: Sequence[str] = ()) -> None:
        add_department(self._state, department_id, name, parentid=parent, leaders=leaders)

    async def admin_creates_tag(self, group: str, name: str) -> None:
        """HQ adds a customer tag in the WeCom console."""
        await self._sender.send(self._state.admin_creates_tag(group, name))
        await self.settle()

    # --- customers ---------------------------------------------------------------------------------

    async def customer_scans(
        self, guide: str, external_userid: str, name: str, *, state: str, settle: bool = True
    ) -> Callback:
        """A customer scans ``guide``'s code with ``state`` and adds the guide on WeChat."""
        xml = self._state.customer_scans_qr(guide, external_userid, state=state, name=name)
        report = await self._sender.send(xml)
        if settle:
            await self.settle()
        return Callback(xml, report.statuses[-1], report.elapsed)

    async def customer_scans_code(self, config_id: str, external_userid: str, name: str) -> None:
        """A customer scans a contact-way code made in WeCom (its ``config_id``); WeCom picks the member."""
        await self._sender.send(scan_contact_way(self._state, config_id, external_userid, name=name))
        await self.settle()

    async def guide_adds_by_phone(self, guide: str, phone: str, external_userid: str, name: str) -> None:
        """The guide searches ``phone`` in 添加客户 and the customer accepts (member acquisition)."""
        await self._sender.send(guide_adds_by_phone(self._state, guide, phone, external_userid, name=name))
        await self.settle()

    async def customer_opens_link(self, url: str, external_userid: str, name: str) -> None:
        """A customer opens an acquisition link (获客助手) from an SMS and adds the guide it gives them."""
        await self._sender.send(customer_opens_link(self._state, url, external_userid, name=name))
        await self.settle()

    # --- customer groups ---------------------------------------------------------------------------

    async def owner_creates_group(self, owner: str, name: str) -> str:
        """A member makes a customer group in the client; its chat_id."""
        chat, created = owner_creates_group(self._state, owner, name)
        await self._sender.send(created)
        await self.settle()
        return chat.chat_id

    def group_had_members(self, chat_id: str, count: int) -> None:
        """``count`` customers were in the group already, from before the product (no callbacks)."""
        chat = self._state.group_chats[chat_id]
        for i in range(count):
            external_userid = f"wmEarly{chat_id[-6:]}{i:03d}"
            self._state.add_external_contact(external_userid)
            chat.members[external_userid] = ChatMember(external_userid, 2, self._state.clock.now_int(), 1)

    async def customer_joins_group(self, config_id: str, external_userid: str, name: str = "") -> None:
        """A customer scans a group code (join way) and WeCom puts them in one of its groups."""
        for event in customer_joins_via_way(self._state, config_id, external_userid, name=name or None):
            await self._sender.send(event)
        await self.settle()

    def join_way_groups(self, config_id: str) -> list[tuple[str, int]]:
        """The groups a join way lists in WeCom now: (name, members)."""
        chats = self._state.group_chats
        return [(chats[c].name, len(chats[c].members)) for c in self._state.join_ways[config_id].chat_id_list]

    def owner_confirms_group_send(self, msgid: str) -> int:
        """The sender confirms a group mass send in the client; the groups it went to."""
        return len(member_confirms_group_send(self._state, msgid))

    async def customer_deletes(self, guide: str, external_userid: str) -> None:
        """The customer deletes the guide from WeChat (流失)."""
        await self._sender.send(self._state.customer_deletes_guide(guide, external_userid))
        await self.settle()

    def guide_confirms_mass(self, userid: str) -> int:
        """The guide taps send on their mass-send tasks in WeCom (客户群发); how many customers received it."""
        return guide_sends_mass(self._state, userid)

    def guide_publishes_moment(self, userid: str) -> int:
        """The guide publishes their pending moments in WeCom (客户朋友圈); how many customers can see them."""
        return guide_publishes_moment(self._state, userid)

    async def shop_posts(self, path: str, body: Mapping[str, Any]) -> tuple[int, Any]:
        """The shop (store system, mini-program) POSTs signed JSON to the app's intake ``path``."""
        data = orjson.dumps(body)
        headers = signed_headers("shop", DEMO_SHOP_SECRET, data, self.deps.clock.timestamp(), path=path)
        async with self.http.post(f"{self.app_url}{path}", data=data, headers=headers) as resp:
            answer = await resp.json()
        await self.settle()
        return resp.status, answer

    # --- the callback wire, as WeCom uses it ------------------------------------------------------

    async def verify_url(self, echostr: str) -> tuple[int | None, str]:
        """WeCom checks the callback URL with an encrypted ``echostr``: (status, what we answered)."""
        report = await self._sender.verify_url(echostr)
        return report.status, report.body

    async def redeliver(self, callback: Callback) -> int | None:
        """WeCom, not hearing back in time, sends the same callback again."""
        report = await self._sender.send(callback.xml)
        return report.statuses[-1]

    async def forge(self, callback: Callback) -> tuple[int, str]:
        """Someone posts ``callback`` with a made-up signature."""
        params, body = self._sender.crypto.encrypted_callback(callback.xml, str(int(time.time())))
        async with self.http.post(self._sender.target_url, params=params | {"msg_signature": "0" * 40},
                                  data=body) as resp:
            return resp.status, await resp.text()

    # --- guides, operators -------------------------------------------------------------------------

    async def guide_writes(self, userid: str, text: str, *, expect: str = "") -> list[DeliveredMessage]:
        """A member writes ``text`` to the app; the answers (until one contains ``expect``, if given)."""
        before = len(self._state.messages_to(userid))
        await self._sender.send(self._state.guide_sends_text(userid, text))

        def answered() -> bool:
            new = self._state.messages_to(userid)[before:]
            return bool(new) and (not expect or any(expect in str(m.content.get("content")) for m in new))

        await self.wait_for(answered)
        return self._state.messages_to(userid)[before:]

    async def guide_taps(self, userid: str, task_id: str, key: str) -> None:
        """A member taps a button on a template card."""
        await self._sender.send(self._state.guide_clicks_card(userid, task_id, key))
        await self.settle()

    async def phone(self, userid: str, *, external_userid: str = "") -> Phone:
        """``userid``'s phone, in the chat with ``external_userid`` (what the chat toolbar opens in)."""
        device = self._state.browser.device
        device.userid, device.entry = userid, "single_chat_tools"
        device.external_userid, device.chat_id = external_userid, ""
        if self._phone_http is None:
            self._phone_http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        return Phone(self._state, self.app_url, self._phone_http)

    async def close(self) -> None:
        if self._phone_http is not None:
            await self._phone_http.close()

    # --- what WeCom delivered ----------------------------------------------------------------------

    def messages_to(self, userid: str) -> list[DeliveredMessage]:
        """App messages (text, markdown, template cards, images) ``userid`` received, oldest first."""
        return self._state.messages_to(userid)

    def robot_messages(self) -> dict[str, list[RobotMessage]]:
        """What each group robot (key) posted."""
        return self._state.robot_messages

    def welcomes_to(self, external_userid: str) -> list[str]:
        """The welcome messages the customer got on adding a guide."""
        return [w.text for w in self._state.welcome_messages if w.external_userid == external_userid]

    def wecom_tags(self, userid: str, external_userid: str) -> str:
        """The customer's tags in WeCom on ``userid``'s profile of them."""
        names = sorted(self._state.tags[t].name for t in self._state.tag_ids_of(userid, external_userid))
        return "、".join(names) or "（无）"

    def media(self, media_id: str) -> bytes:
        return self._state.media[media_id].content

    def count_calls(self, api: str = "") -> int:
        """How many times the app called a WeCom API (``externalcontact/get`` …; all of them without ``api``)."""
        return self._state.count_calls(api) if api else len(self._state.calls)
