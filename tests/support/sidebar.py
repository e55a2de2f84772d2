"""The sidebar's test world: our app and the simulator wired for the browser side, and its customers.

The app signs pages with tickets from the simulator, sends guides through the simulator's OAuth
page, and serves the simulator's JS bridge in place of WeCom's SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin

import aiohttp

from customers.models import ChannelCode, ChatMessage, Customer, Guide, Relationship
from customers.orders import OrderIn, record_orders
from customers.tags import sync_corp_tags
from leads.models import Lead, LeadStatus
from sidebar.models import ScriptSend, SidebarAudit
from sop.models import SopTask
from tagging.service import retag_customers
from tests.conftest import RunningApp, serve_app
from tests.support.waiting import eventually

GUIDE_TAGS = ("高意向", "价格敏感", "已到店")


def sidebar_settings(make_settings: Callable[..., Any], sim_url: str, **overrides: Any) -> Any:
    return make_settings(
        wecom_api_base=sim_url,
        scrm_sidebar_oauth_base=sim_url,
        scrm_sidebar_jssdk_urls=f"{sim_url}/_sim/jsbridge.js",
        **overrides,
    )


@dataclass
class SidebarWorld:
    app: RunningApp
    sim: Any
    http: aiohttp.ClientSession

    @property
    def deps(self) -> Any:
        return self.app.deps

    @property
    def app_url(self) -> str:
        return self.app.url

    @property
    def page_url(self) -> str:
        return f"{self.app.url}/sidebar/"

    def open_chat(self, userid: str, external_userid: str = "", *, chat_id: str = "") -> None:
        """The member ``userid`` opens the toolbar in a chat with this customer (or in this group)."""
        device = self.sim.state.browser.device
        device.userid = userid
        device.entry = "group_chat_tools" if chat_id else "single_chat_tools"
        device.external_userid = external_userid
        device.chat_id = chat_id

    async def customer_with_history(
        self, external_userid: str, name: str, *, guide: str = "guide_sh01_a", remark: str = ""
    ) -> Customer:
        """A customer who scanned the store code 40 days ago, bought 3 times, left a cart, has a task."""
        state = self.sim.state
        now = self.deps.clock.now()
        state.add_external_contact(external_userid, name)
        state.relate(guide, external_userid, state="store_sh01", remark=remark)
        member = await Guide.get(userid=guide)
        channel = await ChannelCode.get_or_none(state="store_sh01")
        customer = await Customer.create(external_userid=external_userid, name=name, first_seen_at=now - timedelta(40))
        await Relationship.create(guide=member, customer=customer, state="store_sh01", channel=channel,
                                  remark=remark, created_at=now - timedelta(days=40))
        n = external_userid[-4:]
        await record_orders([
            OrderIn(f"o{n}-1", Decimal("400"), now - timedelta(days=12), external_userid, store_code="sh01"),
            OrderIn(f"o{n}-2", Decimal("500"), now - timedelta(days=40), external_userid, store_code="sh01"),
            OrderIn(f"o{n}-3", Decimal("390"), now - timedelta(days=60), external_userid, store_code="sh01"),
        ])
        await retag_customers(self.deps, [customer.id])
        await Lead.create(
            key=f"cart_abandoned:{customer.id}:1", customer=customer, pattern="cart_abandoned", priority=80,
            guide_userid=guide, owner_userid=guide, reason="加购未付款「轻羽拖鞋」¥199",
            facts={"product": "轻羽拖鞋", "amount": "199"}, status=LeadStatus.SENT, created_at=now - timedelta(hours=3),
            sent_at=now - timedelta(hours=3),
        )
        await SopTask.create(
            playbook="post_purchase", step="d7_follow", customer=customer, guide=member, occurrence=f"o{n}-1",
            due_at=now - timedelta(hours=1), reason="第7天跟进", suggested_text=f"{name}，上次的鞋子穿着还合脚吗？",
            created_at=now - timedelta(days=5),
        )
        await ChatMessage.create(msg_id=f"m{n}", source="archive", from_id=external_userid, customer=customer,
                                 content="好的谢谢", sent_at=now - timedelta(days=2))
        return await Customer.get(id=customer.id)

    async def wait_sent(self, count: int) -> None:
        await eventually(lambda: len(self.sim.state.browser.sent) >= count)

    async def wait_counted(self, script_id: str, status: str) -> None:
        async def counted() -> bool:
            return await ScriptSend.filter(script_id=script_id, status=status).exists()

        await eventually(counted)

    async def task_status(self, customer: Customer) -> str:
        task = await SopTask.get(customer_id=customer.id)
        return str(task.status.value)

    async def audited(self, userid: str, action: str) -> int:
        return await SidebarAudit.filter(userid=userid, action=action, result__in=["ok", "done"]).count()


@asynccontextmanager
async def open_world(make_settings: Callable[..., Any], sim: Any, **overrides: Any) -> AsyncIterator[SidebarWorld]:
    from bot.app import create_app

    sim.state.add_tag_group("导购标记", list(GUIDE_TAGS))
    for userid in ("guide_sh01_a", "guide_sh01_b", "guide_hz01_a", "manager_sh01", "operator01"):
        sim.state.add_member(userid)
    settings = sidebar_settings(make_settings, sim.url, **overrides)
    async with serve_app(create_app(settings)) as app, aiohttp.ClientSession() as http:
        await sync_corp_tags(app.deps)
        yield SidebarWorld(app, sim, http)


class GuideClient:
    """A guide's phone talking to the sidebar's API over HTTP (cookies kept, CSRF token from the page)."""

    def __init__(self, world: SidebarWorld, http: aiohttp.ClientSession) -> None:
        self.world = world
        self.http = http
        self.csrf = ""

    async def login(self, userid: str) -> str:
        """Through WeCom's OAuth page, as the browser goes; returns the sidebar page's HTML."""
        self.world.open_chat(userid, self.world.sim.state.browser.device.external_userid)
        url = f"{self.world.app_url}/sidebar/login"
        for _ in range(4):
            async with self.http.get(url, allow_redirects=False) as resp:
                if resp.status != 302:
                    page = await resp.text()
                    break
                url = urljoin(url, resp.headers["Location"].split("#")[0])
        else:
            raise AssertionError("too many redirects")
        marker = 'name="csrf-token" content="'
        if marker in page:
            self.csrf = page.split(marker, 1)[1].split('"', 1)[0]
        return page

    async def get(self, path: str, **params: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.world.app_url}{path}", params=params, allow_redirects=False) as resp:
            return resp.status, await resp.json(content_type=None)

    async def post(self, path: str, body: dict[str, Any], *, csrf: str | None = None) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf}
        async with self.http.post(f"{self.world.app_url}{path}", json=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)


@asynccontextmanager
async def guide_client(world: SidebarWorld, userid: str) -> AsyncIterator[GuideClient]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        client = GuideClient(world, http)
        await client.login(userid)
        yield client
