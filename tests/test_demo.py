"""``make demo`` tells a true story: it runs to the end, HQ's weekly board counts a real week,
and the churn alert "weeks later" says how many weeks.

One run (``scrm demo`` in a subprocess, as a newcomer runs it); the demo always uses the embedded
defaults (SQLite, in-process Redis, the simulator), so it runs once, on the embedded pass.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import BACKEND

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(BACKEND != "embedded", reason="the demo is the embedded defaults; runs on the embedded pass"),
]


@pytest.fixture(scope="module")
def told() -> str:
    done = subprocess.run([sys.executable, "-m", "bot", "demo"], capture_output=True, text=True, timeout=400,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def chapter(told: str, title: str) -> str:
    """The lines of the chapter whose heading contains ``title``."""
    start = told.index(title)
    end = told.find("\n== ", start)
    return told[start : end if end > 0 else None]


@pytest.mark.timeout(420)  # about a minute alone; a shared CI host is slower
def test_the_demo_plays_every_chapter_and_leaves_nothing_queued(told: str) -> None:
    assert "queue now: {'stream': 0, 'dead': 0, 'retry': 0}" in told
    for heading in ("A shopper scans", "nightly re-tag", "next morning", "weekly board", "hands her customers over",
                    "morning digest", "address book", "opens the sidebar", "Purchase predictions", "Summary"):
        assert heading in told, heading


@pytest.mark.timeout(420)
def test_hq_weekly_board_and_chart_count_the_week_the_story_played(told: str) -> None:
    board = chapter(told, "the weekly board")
    stores = dict(re.findall(r"\d\. (\S+店) \*\*(-?\d+)\*\*", board))
    assert stores == {"上海南京西路店": "11", "杭州湖滨店": "6"}, board
    assert "the chart's bars (净增客户): 上海南京西路店 11，杭州湖滨店 6" in board


@pytest.mark.timeout(420)
def test_the_churn_alert_weeks_later_says_how_long_the_customer_stayed(told: str) -> None:
    alert = chapter(told, "deletes 王小美")
    assert "添加时长：23天" in alert and "添加时长：0天" not in alert

