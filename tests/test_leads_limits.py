"""A guide's 查看全部 on a lead digest lists every folded lead, in as many messages as it takes."""

from __future__ import annotations

from datetime import timedelta

from leads.models import Lead, LeadStatus
from tests.conftest import Stack
from tests.test_leads import GUIDE, app_clock, at_daytime, cards_to, clock, customer, send_signals, signal, tick

__all__ = ["app_clock"]  # the fixture: the app's clock follows the simulator's


async def test_a_long_digest_list_arrives_whole_in_parts(stack: Stack) -> None:
    at_daytime(stack)
    sleepers = [await customer(stack, dormant=True, name_hint=f"南京西路店年卡会员客户{i:02d}号") for i in range(46)]
    await send_signals(stack, *(signal(stack, "browse", c.external_userid) for c in sleepers))
    folded = await Lead.filter(status=LeadStatus.FOLDED).count()
    assert folded == 40  # 6 cards this hour, the rest folded
    clock(stack).advance(timedelta(minutes=11))
    await tick(stack, "leads_flush")
    [digest] = [c.content for c in cards_to(stack) if c.content["task_id"].startswith("lead-digest")]
    await stack.deliver(stack.state.guide_clicks_card(GUIDE, digest["task_id"], digest["button_list"][0]["key"]))
    await stack.settle()
    parts = [str(m.content["content"]) for m in stack.state.messages_to(GUIDE) if m.msgtype == "text"]
    assert len(parts) >= 2 and all(len(p.encode()) <= 2048 for p in parts)
    listing = "\n".join(parts)
    assert listing.startswith("待跟进线索（40 条）")
    assert all(f"客户{i:02d}号" in listing for i in range(46) if f"客户{i:02d}号" not in str(cards_to(stack)))
    assert f"\n{folded}. " in listing  # the last one is there too
