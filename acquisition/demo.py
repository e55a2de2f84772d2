"""The member acquisition chapter of ``make demo``: the brand's member list in (bad rows named), a guide's
添加会员 list, two members adding their guide (one by phone search, one through an SMS link), the funnel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from acquisition.config import ACQUISITION
from acquisition.links import member_url, sync_links
from acquisition.models import AcquisitionLink, Member
from acquisition.report import funnel
from acquisition.service import import_rows

if TYPE_CHECKING:
    from simulator.narrator import Narrator

__all__ = ["chapter"]

_ROWS = [
    {"member_id": "VIP0001", "phone": "138 0013 8001", "name": "吴女士", "store": "sh01", "guide": "guide_sh01_a"},
    {"member_id": "VIP0002", "phone": "+86 139-0013-9002", "name": "郑先生", "store": "sh01"},
    {"member_id": "VIP0003", "phone": "13700137003", "name": "冯女士", "store": "sh01", "guide": "guide_sh01_a"},
    {"member_id": "VIP0004", "phone": "13600136004", "name": "陈女士", "store": "hz01"},
    {"member_id": "VIP0005", "phone": "0571-8888888", "name": "座机", "store": "hz01"},
    {"member_id": "VIP0006", "phone": "13500135006", "name": "褚先生", "store": "bj99"},
    {"member_id": "VIP0002", "phone": "13900139002", "name": "郑先生", "store": "sh01"},
]


async def chapter(n: Narrator) -> None:
    """The demo chapter (bot/features.py)."""
    for userid, name in (("guide_sh01_a", "王小美"), ("guide_sh01_b", "李晓"), ("guide_hz01_a", "陈静")):
        n.add_member(userid, name)
    n.say("The brand imports its member list (scrm import members members.csv): 7 rows, 3 of them bad")
    result = await import_rows(n.deps, list(enumerate(_ROWS, 2)), "members.csv")
    n.show(f"imported {result.stored} members, {result.assigned} add tasks given to guides of their store")
    for number, reason in result.rejected:
        n.show(f"  row {number} rejected: {reason}")

    n.say("王小美 asks for her members to add (添加会员): phones masked, a greeting to send")
    for message in await n.guide_writes("guide_sh01_a", "添加会员", expect="添加会员"):
        n.show_text(str(message.content.get("content", "")))

    n.say("王小美 searches 吴女士's phone in 添加客户; 吴女士 accepts")
    await n.guide_adds_by_phone("guide_sh01_a", "13800138001", "wmDemoVip01", "吴女士")
    n.say("The store's SMS reaches 郑先生 with his own link (获客助手, customer_channel=VIP0002); he taps it")
    await sync_links(n.deps)
    link = await AcquisitionLink.get(scope="store", key="sh01")
    url = member_url(link.url, "VIP0002")
    n.show(f"link: {url}")
    await n.customer_opens_link(url, "wmDemoVip02", "郑先生")
    for member in await Member.filter(member_id__in=["VIP0001", "VIP0002"]).order_by("member_id"):
        n.show(f"{member.member_id} {member.name}: added {member.added_by}, recognised by {member.matched_by}, "
               f"came by {member.came_by}, task {member.task_status.value}")

    n.say("The funnel (scrm acquisition funnel)")
    figures = await funnel(n.now(), n.deps.config[ACQUISITION].acquire_due_days)
    total = figures["total"]
    n.show(f"total: imported {total['imported']}, assigned {total['assigned']}, added {total['added']} "
           f"(link {total['added_via_link']}, phone {total['added_via_phone']}), open {total['open']}")
    for row in figures["stores"]:
        n.show(f"  store {row['store']}: imported {row['imported']}, added {row['added']}, open {row['open']}")
