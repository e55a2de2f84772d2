"""The sidebar chapter of ``make demo``: 王小美 opens the sidebar in a chat with her customer.

Told over HTTP as her phone would (WeCom's OAuth page, the signed JS-SDK, the card, a script put
into the chat through WeCom's JS bridge — the simulator plays WeCom's parts). ``scrm demo --serve``
then keeps the app and the simulator running, the phone still in this chat, so the printed URL
opens the same sidebar in a desktop browser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from customers.models import Relationship

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]

GUIDE = "guide_sh01_a"
PAGE = "/sidebar/"


async def _best_customer(userid: str) -> tuple[str, str]:
    """The guide's customer (still in contact) with most orders: (external_userid, name)."""
    relation = await Relationship.filter(
        guide__userid=userid, deleted_by_customer_at=None, deleted_by_guide_at=None
    ).order_by("-customer__order_count", "-created_at").prefetch_related("customer").first()
    if relation is None:
        raise RuntimeError(f"{userid} has no customer for the sidebar demo")
    return str(relation.customer.external_userid), str(relation.customer.name)


def _summary(section: dict[str, Any]) -> str:
    """One line of what a card section shows."""
    if section["id"] == "tags":
        return "、".join(t["name"] for t in section["tags"]) or "—"
    if section["id"] == "orders":
        return f"{section['count']} 单，¥{section['total']}"
    if "items" in section:
        return " / ".join(i["text"] for i in section["items"]) or "—"
    lists = [v for k, v in section.items() if isinstance(v, list) and k != "addable"]
    return f"{len(lists[0])} 条" if lists else "—"


async def chapter(n: Narrator) -> None:
    """The demo chapter (its feature's ``demo`` slot, bot/feature.py)."""
    external_userid, name = await _best_customer(GUIDE)
    n.say(f"王小美 opens the sidebar (聊天工具栏) in her chat with {name}")
    phone = await n.phone(GUIDE, external_userid=external_userid)
    page = await phone.open("/sidebar/login")
    csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    n.show(f"OAuth snsapi_base → auth/getuserinfo → signed in as {GUIDE} (HttpOnly cookie, 2 h)")
    url = f"{phone.app_url}{PAGE}"
    signed = await phone.get_json("/sidebar/api/jssdk", {"url": url})
    bridge = phone.bridge_config({"kind": "config", "url": url, "corpid": signed["config"]["appId"],
                                  **{k: signed["config"][k] for k in ("timestamp", "nonceStr", "signature")}})
    agent = phone.bridge_config({"kind": "agentConfig", "url": url, "bridge_id": bridge["bridge_id"],
                                 **signed["agentConfig"]})
    n.show(f"wx.config → {bridge['errMsg']}, wx.agentConfig → {agent['errMsg']} (signed on the server)")
    contact = phone.bridge_invoke({"bridge_id": bridge["bridge_id"], "api": "getCurExternalContact"})
    card = await phone.get_json("/sidebar/api/card", {"external_userid": contact["userId"]})
    customer = card["customer"]
    n.show(f"card: {customer['name']}（来源 {customer['channel']}，已加 {customer['contact_days']} 天）")
    for section in card["sections"]:
        n.show(f"  {section['title']}: {_summary(section)}")
    headers = {"X-CSRF-Token": csrf}
    prepared = await phone.post_json("/sidebar/api/send", {"external_userid": external_userid, "item": "hello_back"},
                                     headers)
    sent = phone.bridge_invoke({"bridge_id": bridge["bridge_id"], "api": "sendChatMessage",
                                "params": prepared["message"]})
    await phone.post_json("/sidebar/api/sent", {"send_id": prepared["send_id"], "status": "sent"}, headers)
    n.show(f"one tap on 话术「回访问候」 → {sent['err_msg']}: 「{phone.last_sent}」")
