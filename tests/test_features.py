"""The features (bot/features.py, each declared in its package) are the one map: what they name is what
every process runs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.commands import Call, table_of
from bot.dispatch import Router, feature_routers, hooks
from bot.feature import features
from bot.features import FEATURES
from bot.scheduler import ticks
from config.settings import Settings
from tests.conftest import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("bot", "handlers", "config", "simulator", *FEATURES)
# Tencent's published sample credentials (the simulator's defaults): public, not secrets.
# The tests' own app credentials (Tencent's public sample ones are refused outside the simulator).
WECOM = dict(wecom_corp_id=CORP_ID, wecom_agent_id=AGENT_ID, wecom_secret=SECRET, wecom_token=TOKEN,
             wecom_aes_key=AES_KEY)


def fresh_python(code: str) -> str:
    """Run ``code`` in a new interpreter: nothing this test session imported is there."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=True)
    return done.stdout.strip()


def test_the_features_routers_carry_every_chat_command_and_hand_over_hook() -> None:
    routers = feature_routers()
    table = table_of(tuple(routers))
    assert {"帮助", "客户", "线索", "SOP 列表", "排行", "渠道码", "交接"} <= set(table.commands)
    assert sorted(hooks(routers, "handover")) == sorted(["线索", "SOP待办"])


def test_an_app_built_from_given_routers_has_exactly_their_commands_and_hooks() -> None:
    mine = Router("mine")

    @mine.command("你好", "hello", help="打招呼")
    async def hello(call: Call) -> str:
        return "你好"

    @mine.on_handover("我的记录")
    async def move(deps: object, old: str, new: str, external_userids: Sequence[str]) -> int:
        return 0

    table = table_of((mine,))
    assert table.commands.names() == ["你好"] and table.parse("hello")[0] is not None
    assert table.parse("帮助")[0] is None  # no other feature's command
    assert hooks([mine], "handover").names() == ["我的记录"]


def test_two_routers_cannot_both_claim_a_spelling() -> None:
    first, second = Router("first"), Router("second")

    @first.command("你好", "hi")
    async def one(call: Call) -> str:
        return ""

    @second.command("您好", "HI")
    async def two(call: Call) -> str:
        return ""

    with pytest.raises(ValueError, match="chat command spelling 'hi' is registered already"):
        table_of((first, second))


def test_the_table_imports_no_feature_code() -> None:
    # So every module may read the list of features without an import cycle.
    loaded = fresh_python(
        "import sys\nbefore = set(sys.modules)\nimport bot.features\n"
        "print(','.join(sorted(set(sys.modules) - before)))"
    )
    project = {name for name in loaded.split(",") if name.split(".")[0] in PROJECT}
    assert project == {"bot", "bot.features"}


def test_reading_every_declaration_runs_no_feature_code() -> None:
    # A declaration names its parts; looking for its conventional files does not import them.
    loaded = fresh_python(
        "import sys\nbefore = set(sys.modules)\nfrom bot.feature import features\nfeatures()\n"
        "print(','.join(sorted(set(sys.modules) - before)))"
    )
    project = {name for name in loaded.split(",") if name.split(".")[0] in PROJECT}
    assert project == {"bot", "bot.features", "bot.feature", "bot.registry", "handlers", *FEATURES}


def test_every_handler_module_and_tick_the_table_names_is_there() -> None:
    routers = feature_routers()
    assert len({r.name for r in routers}) == sum(len(f.handlers) for f in features())
    scheduled = {t.name for t in ticks(Settings(_env_file=None, **WECOM))}  # type: ignore[arg-type]
    handled = {sub.event for r in routers for sub in r.subscriptions if sub.source == "internal"}
    assert scheduled and scheduled <= handled, "every tick queues an event some handler takes"
