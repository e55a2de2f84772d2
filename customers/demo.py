"""The customers chapter of ``make demo``: the callback wire (verification, a scan, re-sends, a
forgery), the welcome, the tag mirror, the shop's orders, and a churn alert weeks later."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

from customers.models import Customer, Relationship, Tag

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]

CHURN_AFTER = timedelta(days=23)


async def _first_scan(n: Narrator) -> None:
    n.say("A shopper scans the 南京西路店 QR code of guide 王小美")
    started = time.perf_counter()
    scan = await n.customer_scans("guide_sh01_a", "wmDemoZhou01", "周小姐", state="store_sh01", settle=False)
    n.show(f"WeCom → POST /wecom/callback (signed, AES-encrypted): HTTP {scan.status} 'success' in "
           f"{scan.elapsed * 1000:.1f} ms — verified, decrypted, de-duplicated, queued")
    await n.wait_for(lambda: bool(n.welcomes_to("wmDemoZhou01")))
    n.show(f"worker: fetched the contact, sent the welcome {1000 * (time.perf_counter() - started):.0f} ms "
           "after the callback (the welcome code lives ~20 s):")
    n.show(f"  「{n.welcomes_to('wmDemoZhou01')[0]}」")
    await n.settle()
    relationship = await Relationship.get(customer__external_userid="wmDemoZhou01").prefetch_related(
        "customer", "channel", "guide")
    n.show(f"database: customer {relationship.customer.name} ↔ guide {relationship.guide.name}, channel "
           f"{relationship.channel.name if relationship.channel else '-'} (state={relationship.state})")

    n.say("WeCom did not hear us in time and re-sends the same callback twice")
    for _ in range(2):
        n.show(f"re-send answered HTTP {await n.redeliver(scan)}: recognised as a duplicate, not queued")
    await n.settle()
    n.show(f"welcome messages to 周小姐: {len(n.welcomes_to('wmDemoZhou01'))} (one, as it must be)")

    n.say("Someone posts a forged callback")
    status, text = await n.forge(scan)
    n.show(f"forged signature → HTTP {status} {text!r}; nothing stored, server still serving")


async def _churn(n: Narrator) -> None:
    n.say("The same afternoon 何先生 adds 王小美 too (南京西路店 code); the shop records his first order")
    await n.customer_scans("guide_sh01_a", "wmDemoHe01", "何先生", state="store_sh01")
    paid = n.now() - timedelta(hours=1)
    await n.shop_posts("/intake/orders", {"orders": [
        {"order_id": "DEMO-HE-1", "external_userid": "wmDemoHe01", "amount": "329", "paid_at": paid.isoformat(),
         "store_code": "sh01"}]})
    he = await Customer.get(external_userid="wmDemoHe01")
    n.show(f"database: {he.name}, {he.order_count} order, ¥{he.total_spent}")

    local = n.pass_time(CHURN_AFTER)
    n.say(f"{CHURN_AFTER.days} days later ({local:%m-%d}) 何先生 deletes 王小美 from his WeChat (流失)")
    await n.customer_deletes("guide_sh01_a", "wmDemoHe01")
    for userid in ("guide_sh01_a", "manager_sh01"):
        for message in n.messages_to(userid):
            if "流失" in str(message.content.get("content", "")):
                n.show(f"app message to {userid}:")
                n.show_text(str(message.content["content"]))


async def chapter(n: Narrator) -> None:
    """The demo chapter (its feature's ``demo`` slot, bot/feature.py)."""
    status, body = await n.verify_url("demo-echo-1288432023552776189")
    n.show(f"URL verification: WeCom sent an encrypted echostr, we answered {body!r} (HTTP {status})")
    n.add_member("guide_sh01_a", "王小美")
    n.add_member("manager_sh01", "张店长")
    await _first_scan(n)

    n.say("HQ adds a tag 兴趣/拖鞋 in the WeCom console")
    await n.admin_creates_tag("兴趣", "拖鞋")
    await n.wait_for(Tag.filter(name="拖鞋").exists)
    n.show("change_external_tag → get_corp_tag_list → the local tag mirror now has 兴趣/拖鞋")

    await _churn(n)

    n.say("The shop sends 周小姐's orders (signed POST /intake/orders)")
    now = n.now()
    orders = [
        {"order_id": f"DEMO-{i}", "external_userid": "wmDemoZhou01", "amount": amount,
         "paid_at": (now - timedelta(days=days)).isoformat(), "store_code": "sh01"}
        for i, (days, amount) in enumerate(((60, "640"), (40, "900"), (12, "800")))
    ]
    status, result = await n.shop_posts("/intake/orders", {"orders": orders})
    zhou = await Customer.get(external_userid="wmDemoZhou01")
    n.show(f"HTTP {status}: {result['accepted']} accepted — queued, stored; her aggregates now "
           f"{zhou.order_count} orders, ¥{zhou.total_spent}")
