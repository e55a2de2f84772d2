"""One reload story: an operator edits config files; every process picks up all of them or none."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bot.app import create_app
from bot.reload import CHECK_EVERY_S
from leads.config import LEADS
from sidebar.config import LIBRARY
from tagging.config import TAG_RULES
from tests.conftest import serve_app
from tests.support import chat
from tests.support.chat import stack_of
from tests.support.sidebar import open_world, sidebar_settings
from tests.support.waiting import eventually

CONFIG = Path(__file__).resolve().parent.parent / "config"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new), "utf-8")


async def test_an_edit_reaches_every_process_and_a_broken_file_changes_nothing_anywhere(
    make_settings: Callable[..., Any], sim: Any, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    async with open_world(make_settings, sim, scrm_config_dir=config) as world, \
            serve_app(create_app(sidebar_settings(make_settings, sim.url, scrm_config_dir=config), role="web")) as web:
        processes = [world.deps, web.deps]
        say = partial(chat.say, stack_of(world.app, sim, world.http), "operator01")

        def rule(deps: Any) -> str:
            return str(next(r.description for r in deps.config[TAG_RULES].rules if r.id == "channel_store"))

        def greeting(deps: Any) -> str:
            return str(deps.config[LIBRARY].items["hello_first"].title)

        # An operator saves tag_rules.yaml: every process uses it within seconds, no command needed.
        edit(config / "tag_rules.yaml", "扫门店渠道码添加的客户，打上来源门店", "门店码来的客户")
        await eventually(lambda: all(rule(deps) == "门店码来的客户" for deps in processes), within=5 * CHECK_EVERY_S)

        # A good edit of the library and a broken leads.yaml together: neither is used, anywhere.
        edit(config / "sidebar.yaml", "初次问候", "初次问候（新）")
        edit(config / "leads.yaml", "per_hour: 6 ", "per_hour: many ")
        reply = await say("重载配置")
        assert "有误，未生效" in reply and "leads.yaml" in reply and "line" in reply and "per_hour" in reply
        await eventually(lambda: all(deps.config.watch.failed for deps in processes), within=5 * CHECK_EVERY_S)
        assert [greeting(deps) for deps in processes] == ["初次问候", "初次问候"]
        assert [deps.config[LEADS].delivery.per_hour for deps in processes] == [6, 6]

        # Fixed: the old command names still work, and the reply says which files changed.
        edit(config / "leads.yaml", "per_hour: many ", "per_hour: 5 ")
        reply = await say("重载标签规则")
        assert "已重新加载" in reply and "leads.yaml" in reply and "sidebar.yaml" in reply, reply
        await eventually(lambda: all(greeting(deps) == "初次问候（新）" for deps in processes),
                         within=5 * CHECK_EVERY_S)
        assert [deps.config[LEADS].delivery.per_hour for deps in processes] == [5, 5]
        assert "已重新加载" in await say("重载话术库")
