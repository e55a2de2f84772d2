"""The guide's members to add in the sidebar: on any customer's card, masked, with what they bought and a
greeting; the full phone on the guide's own tap, and to no one else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from acquisition.models import Member
from acquisition.service import import_rows
from tests.support.sidebar import SidebarWorld, guide_client, open_world

ROWS = [
    {"member_id": "VIP1", "phone": "13800138001", "name": "吴女士", "store": "sh01", "guide": "guide_sh01_a"},
    {"member_id": "VIP2", "phone": "13900139002", "name": "郑先生", "store": "sh01", "guide": "guide_sh01_b"},
]


@pytest.fixture
async def world(make_settings: Callable[..., Any], sim: Any) -> AsyncIterator[SidebarWorld]:
    async with open_world(make_settings, sim) as opened:
        yield opened


async def test_the_card_lists_my_members_to_add_and_a_tap_shows_my_own_members_phone(world: SidebarWorld) -> None:
    customer = await world.customer_with_history("wmSIDEACQ1", "周晓雯")
    result = await import_rows(world.deps, list(enumerate(ROWS, 2)), "vip.csv")
    assert result.assigned == 2
    mine = await Member.get(member_id="VIP1")
    theirs = await Member.get(member_id="VIP2")
    async with guide_client(world, "guide_sh01_a") as phone:
        _, card = await phone.get("/sidebar/api/card", external_userid=customer.external_userid)
        section = next(s for s in card["sections"] if s["id"] == "members")
        assert section["title"] == "添加会员" and section["count"] == 1
        assert [(i["text"], i["sub"]) for i in section["items"]] == [(f"#{mine.id} 吴女士", "138****8001")]
        assert "吴女士" in section["greeting"] and "13800138001" not in str(card)
        status, shown = await phone.get(section["items"][0]["reveal"])
        assert (status, shown) == (200, {"text": "13800138001"})
        status, _ = await phone.get("/sidebar/api/member-phone", task_id=str(theirs.id))
        assert status == 403  # another guide's member
        assert (await phone.get("/sidebar/api/member-phone", task_id="x" * 30))[0] == 403
