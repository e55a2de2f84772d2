"""The sidebar's group view of a group code's group: the code, its size against the full mark, and the
group step due for it, sent into the group with one tap."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from customers.models import GroupChat, GroupChatMember
from groups.delivery import run_pushes
from groups.models import GroupCode, GroupCodeChat, GroupPush
from tests.support.sidebar import SidebarWorld, guide_client, open_world


@pytest.fixture
async def world(make_settings: Callable[..., Any], sim: Any) -> AsyncIterator[SidebarWorld]:
    async with open_world(make_settings, sim) as opened:
        yield opened


async def test_the_group_view_shows_the_code_and_sends_the_new_group_step(world: SidebarWorld) -> None:
    deps = world.deps
    # A group 赵敏 made today for the store's code (config/groups.yaml's 新群破冰 greets new groups).
    chat = await GroupChat.create(chat_id="wrNEWGROUP1", name="南京西路会员3群", owner_userid="guide_sh01_a",
                                  member_count=42, created_at=deps.clock.now())
    await GroupChatMember.create(chat=chat, userid="guide_sh01_a", type=1)
    code = await GroupCode.create(name="南京西路店会员群码", kind="store", state="gs_sh01", owner_userid="guide_sh01_a",
                                  config_id="cfg1")
    await GroupCodeChat.create(code=code, chat_id=chat.chat_id, members=42, listed=True, added_at=deps.clock.now())
    assert await run_pushes(deps) == 1
    notice = world.sim.state.messages_to("guide_sh01_a")[-1].content["content"]
    assert "新群破冰" in notice and "欢迎大家加入" in notice

    async with guide_client(world, "guide_sh01_a") as phone:
        status, group = await phone.get("/sidebar/api/group", chat_id=chat.chat_id)
        assert status == 200
        view = group["group"]
        assert view["code"] == {"name": "南京西路店会员群码", "state": "gs_sh01", "listed": True}
        assert (view["members"], view["full_at"]) == (42, 190)
        [step] = view["steps"]
        assert step["text"].startswith("欢迎大家加入") and step["playbook"] == "new_group_hello"

        # One tap: the page sends the text into the group, then says so; a second report counts nothing.
        body = {"step_id": step["id"], "chat_id": chat.chat_id}
        assert (await phone.post("/sidebar/api/group_step_sent", body))[1] == {"result": True}
        assert (await phone.post("/sidebar/api/group_step_sent", body))[1] == {"result": False}
        _, group = await phone.get("/sidebar/api/group", chat_id=chat.chat_id)
        assert group["group"]["steps"] == []
    push = await GroupPush.get(id=step["id"])
    assert push.sent_chat_ids == [chat.chat_id] and push.sent_at is not None

    async with guide_client(world, "guide_hz01_a") as stranger:  # not their group: nothing to send
        assert (await stranger.post("/sidebar/api/group_step_sent", body))[0] == 403


@pytest.fixture
def member_day_config(tmp_path: Path) -> Path:
    """会员日 today: a dated step to the groups of 南京西路店's code, pushed as a group mass send."""
    config = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parent.parent / "config", config)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    (config / "groups.yaml").write_text(f"""\
playbooks:
  - id: member_day
    name: 会员日
    groups: {{codes: [南京西路店会员群码]}}
    trigger: {{type: date, dates: [{today.isoformat()}, {(today + timedelta(days=1)).isoformat()}]}}
    steps:
      - {{id: coupon, at: "00:00", text: "今天会员日，{{store}}全场满300减50", attachment: member_day}}
""", encoding="utf-8")
    return config


@pytest.fixture
async def dated_world(make_settings: Callable[..., Any], sim: Any,
                      member_day_config: Path) -> AsyncIterator[SidebarWorld]:
    async with open_world(make_settings, sim, scrm_config_dir=member_day_config) as opened:
        yield opened


async def test_a_dated_step_goes_to_the_codes_groups_once(dated_world: SidebarWorld) -> None:
    deps, state = dated_world.deps, dated_world.sim.state
    mine = state.add_group_chat("guide_sh01_a", "南京西路会员1群")
    other = state.add_group_chat("guide_sh01_b", "不在群码里的群")
    for chat in (mine, other):
        await GroupChat.create(chat_id=chat.chat_id, name=chat.name, owner_userid=chat.owner, member_count=1,
                               created_at=deps.clock.now())
    code = await GroupCode.create(name="南京西路店会员群码", kind="store", state="gs_sh01",
                                  owner_userid="guide_sh01_a", config_id="cfg1")
    await GroupCodeChat.create(code=code, chat_id=mine.chat_id, members=1, listed=True, added_at=deps.clock.now())
    assert await run_pushes(deps) == 1
    assert await run_pushes(deps) == 0  # the same day swept again: nothing more
    [sent] = [t for t in state.msg_templates if t.chat_type == "group"]
    assert (sent.sender, sent.chat_ids) == ("guide_sh01_a", [mine.chat_id])
    assert sent.text == "今天会员日，上海南京西路店全场满300减50"
    assert sent.attachments == [{"msgtype": "link", "link": {
        "title": "会员日活动", "picurl": "https://shop.example.com/static/member-day.png",
        "desc": "本周六会员日，全场满300减50", "url": "https://shop.example.com/member-day"}}]
