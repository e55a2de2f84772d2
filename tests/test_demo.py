"""``make demo`` tells a true story: it runs to the end, HQ's weekly board counts a real week,
and the churn alert "weeks later" says how many weeks.

One run (``scrm demo`` in a subprocess, as a newcomer runs it); the demo always uses the embedded
defaults (SQLite, in-process Redis, the simulator), so it runs once, on the embedded pass. And
every feature's chapter is told through the one narrator, not by driving the simulator itself.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.feature import features
from tests.conftest import BACKEND

ROOT = Path(__file__).resolve().parent.parent
# The run is the embedded defaults whatever the suite's backend: it runs once, on the embedded pass.
once = pytest.mark.skipif(BACKEND != "embedded", reason="the demo is the embedded defaults; runs on the embedded pass")


@once
def test_every_feature_chapter_is_told_through_the_narrator_alone() -> None:
    # A chapter imports its own feature's services, never the simulator (only the narrator's type).
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom bot.feature import attributes\nchapters = list(attributes('demo'))\n"
         "print(len(chapters), sorted(m for m in sys.modules if m.split('.')[0] == 'simulator'))"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip().split(maxsplit=1)
    assert loaded == [str(sum(len(f.demo) for f in features())), "[]"]
    assert {f.name for f in features() if not f.demo} == set(), "every feature tells its part of the story"


@pytest.fixture(scope="module")
def told() -> str:
    """What ``scrm demo`` printed."""
    done = subprocess.run([sys.executable, "-m", "bot", "demo"], capture_output=True, text=True, timeout=400,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def chapter(told: str, title: str) -> str:
    """The lines of the chapter whose heading contains ``title``."""
    start = told.index(title)
    end = told.find("\n== ", start)
    return told[start : end if end > 0 else None]


@once
@pytest.mark.slow
@pytest.mark.timeout(420)  # about a minute alone; a shared CI host is slower
def test_the_demo_plays_every_chapter_and_leaves_nothing_queued(told: str) -> None:
    assert "queue now: {'stream': 0, 'dead': 0, 'retry': 0}" in told
    for heading in ("A shopper scans", "nightly re-tag", "next morning", "weekly board", "hands her customers over",
                    "morning digest", "address book", "opens the sidebar", "Purchase predictions",
                    "Campaigns: a mass send", "Summary"):
        assert heading in told, heading


@once
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_hq_weekly_board_and_chart_count_the_week_the_story_played(told: str) -> None:
    board = chapter(told, "the weekly board")
    stores = dict(re.findall(r"\d\. (\S+店) \*\*(-?\d+)\*\*", board))
    assert stores == {"上海南京西路店": "11", "杭州湖滨店": "6"}, board
    assert "the chart's bars (净增客户): 上海南京西路店 11，杭州湖滨店 6" in board


@once
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_the_churn_alert_weeks_later_says_how_long_the_customer_stayed(told: str) -> None:
    alert = chapter(told, "deletes 王小美")
    assert "添加时长：23天" in alert and "添加时长：0天" not in alert



@once
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_the_member_list_becomes_friends_of_the_right_guides(told: str) -> None:
    story = told[told.index("imports its member list") : told.index("== Summary")]
    assert "imported 4 members, 4 add tasks" in story and "row 8 rejected: duplicate member id VIP0002" in story
    assert "#1 吴女士 138****8001" in story and "13800138001" not in story  # masked in the guide's list
    assert "VIP0001 吴女士: added guide_sh01_a, recognised by phone, came by guide, task done" in story
    assert "VIP0002 郑先生: added guide_sh01_a, recognised by state, came by link, task done" in story
    assert "total: imported 4, assigned 4, added 2 (link 1, phone 1), open 2" in story


@once
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_the_group_chapter_rolls_a_full_group_over_and_pushes_one_group_step(told: str) -> None:
    hellos = chapter(told, "runs two member groups")
    assert "2 icebreaker tasks wait in 刘店长's sidebar" in hellos and "group view: 2 sent" in hellos
    made = chapter(told, "Group codes are WeCom join ways")
    assert "1 group codes created (1 add_join_way calls)" in made and "state=gs_hz01" in made
    rolled = chapter(told, "at 190 members the first group leaves the list")
    assert "now lists [('湖滨店会员2群', " in rolled
    assert "湖滨店会员1群 reached 190 at the callback and left the list" in rolled
    pushed = chapter(told, "the weekly group step goes to the store's groups")
    assert "add_msg_template (chat_type group) to 2 groups" in pushed and "sent to 2 groups" in pushed
    assert "joins through codes 8, pushes sent 3/3, groups reached 4" in pushed
