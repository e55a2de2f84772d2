"""The demo's last chapter: 王小美 opens the sidebar in a chat with her customer.

Told over HTTP as her phone would (WeCom's OAuth page, the signed JS-SDK, the card, a script put
into the chat through the simulator's JS bridge). ``scrm demo --serve`` then keeps the app and the
simulator running, so the printed URL opens the same sidebar in a desktop browser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import aiohttp

from customers.models import Relationship
from simulator.jsbridge import play_config, play_invoke
from simulator.state import SimulatorState

__all__ = ["open_sidebar_chat", "sidebar_story"]

GUIDE = "guide_sh01_a"


async def open_sidebar_chat(state: SimulatorState, userid: str = GUIDE) -> str:
    """Point the simulated phone at ``userid``'s customer with most orders; return that customer's id."""
    relation = await Relationship.filter(
        guide__userid=userid, deleted_by_customer_at=None, deleted_by_guide_at=None
    ).order_by("-customer__order_count", "-created_at").prefetch_related("customer").first()
    if relation is None:
        raise RuntimeError(f"{userid} has no customer for the sidebar demo")
    device = state.browser.device
    device.userid, device.entry = userid, "single_chat_tools"
    device.external_userid, device.chat_id = relation.customer.external_userid, ""
    return str(relation.customer.external_userid)


async def _login(http: aiohttp.ClientSession, app_url: str) -> str:
    url = f"{app_url}/sidebar/login"
    for _ in range(4):
        async with http.get(url, allow_redirects=False) as resp:
            if resp.status != 302:
                page = await resp.text()
                return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
            url = urljoin(url, resp.headers["Location"].split("#")[0])
    raise RuntimeError("the sidebar login did not settle")


async def sidebar_story(
    state: SimulatorState, app_url: str, say: Callable[[str], None], show: Callable[[str], None]
) -> None:
    external_userid = await open_sidebar_chat(state)
    say("王小美 opens the sidebar (聊天工具栏) in her chat with a customer")
    page = f"{app_url}/sidebar/"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await _login(http, app_url)
        show(f"OAuth snsapi_base → auth/getuserinfo → signed in as {GUIDE} (HttpOnly cookie, 2 h)")
        async with http.get(f"{app_url}/sidebar/api/jssdk", params={"url": page}) as resp:
            signed: dict[str, Any] = await resp.json()
        bridge = play_config(state, {"kind": "config", "url": page, "corpid": signed["config"]["appId"],
                                     **{k: signed["config"][k] for k in ("timestamp", "nonceStr", "signature")}})
        agent = play_config(state, {"kind": "agentConfig", "url": page, "bridge_id": bridge["bridge_id"],
                                    **signed["agentConfig"]})
        show(f"wx.config → {bridge['errMsg']}, wx.agentConfig → {agent['errMsg']} (signed on the server)")
        contact = play_invoke(state, {"bridge_id": bridge["bridge_id"], "api": "getCurExternalContact"})
        async with http.get(f"{app_url}/sidebar/api/card", params={"external_userid": contact["userId"]}) as resp:
            card = await resp.json()
        customer = card["customer"]
        show(f"card: {customer['name']}（来源 {customer['channel']}，已加 {customer['contact_days']} 天）")
        for section in card["sections"]:
            count = {"tags": len(section.get("tags", [])), "orders": section.get("count", 0),
                     "leads": len(section.get("leads", [])), "tasks": len(section.get("tasks", [])),
                     "notes": len(section.get("notes", []))}.get(section["id"], 0)
            show(f"  {section['title']}: {count}")
        headers = {"X-CSRF-Token": csrf}
        async with http.post(f"{app_url}/sidebar/api/send", json={"external_userid": external_userid,
                                                                    "item": "hello_back"}, headers=headers) as resp:
            prepared = await resp.json()
        sent = play_invoke(state, {"bridge_id": bridge["bridge_id"], "api": "sendChatMessage",
                                   "params": prepared["message"]})
        async with http.post(f"{app_url}/sidebar/api/sent", json={"send_id": prepared["send_id"], "status": "sent"},
                             headers=headers) as resp:
            await resp.read()
        show(f"one tap on 话术「回访问候」 → {sent['err_msg']}: 「{state.browser.sent[-1].payload['content']}」")
