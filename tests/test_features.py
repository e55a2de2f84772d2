"""The feature table (bot/features.py) is the one map: what it names is what every process runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.dispatch import feature_routers
from bot.features import FEATURES
from bot.scheduler import ticks
from config.settings import Settings
from tests.conftest import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("bot", "handlers", "tagging", "leads", "sop", "sidebar", "predict", "orgsync", "channels", "config")
# The tests' made-up app (tests/conftest.py): valid in form, public, not secrets.
WECOM = dict(wecom_corp_id=CORP_ID, wecom_agent_id=AGENT_ID, wecom_secret=SECRET, wecom_token=TOKEN,
             wecom_aes_key=AES_KEY)


def fresh_python(code: str) -> str:
    """Run ``code`` in a new interpreter: nothing this test session imported is there."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=True)
    return done.stdout.strip()


def test_an_app_given_its_own_routers_still_moves_every_feature_on_a_hand_over() -> None:
    # The leads and SOP hooks live in handler modules this app's routers do not import.
    hooks = fresh_python(
        "from bot.app import create_app\n"
        "from operators.handover import HANDOVER_HOOKS\n"
        "from config.settings import Settings\n"
        f"create_app(Settings(_env_file=None, **{WECOM!r}), role='worker', routers=[])\n"
        "print(','.join(sorted(HANDOVER_HOOKS)))"
    )
    assert hooks.split(",") == sorted(["线索", "SOP待办"])


def test_the_table_imports_no_feature_code() -> None:
    # So every module may read the table without an import cycle.
    loaded = fresh_python(
        "import sys\nbefore = set(sys.modules)\nimport bot.features\n"
        "print(','.join(sorted(set(sys.modules) - before)))"
    )
    project = {name for name in loaded.split(",") if name.split(".")[0] in PROJECT}
    assert project == {"bot", "bot.features"}


def test_every_handler_module_and_tick_the_table_names_is_there() -> None:
    routers = feature_routers()
    assert len({r.name for r in routers}) == sum(len(f.handlers) for f in FEATURES)
    scheduled = {t.name for t in ticks(Settings(_env_file=None, **WECOM))}  # type: ignore[arg-type]
    handled = {sub.event for r in routers for sub in r.subscriptions if sub.source == "internal"}
    assert scheduled and scheduled <= handled, "every tick queues an event some handler takes"
