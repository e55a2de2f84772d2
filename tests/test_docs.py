"""The documentation cannot drift: every link resolves, and the reference pages are the code's.

bot/docgen.py generates docs/settings.md, docs/chat-commands.md, docs/kinds.md and the docs index;
its check fails when something the code registers has no documentation or a page is stale.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

from pydantic import Field, create_model

from bot import docgen
from bot.docgen import CommandRow, KindRow
from config.settings import Settings
from tests.conftest import no_backend

pytestmark = no_backend

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCED = re.compile(r"^```.*?^```", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCED.sub("", page.read_text("utf-8"))
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """The relative links (and #anchors) of ``page`` that lead nowhere."""
    text = CODE.sub("", FENCED.sub("", page.read_text("utf-8")))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:: not ours to check offline
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{page.relative_to(root)}: {target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{page.relative_to(root)}: {target} (no such heading)")
    return broken


def test_every_relative_link_in_the_readme_and_the_docs_resolves() -> None:
    assert len(PAGES) > 15
    assert [problem for page in PAGES for problem in broken_links(page)] == []


def test_a_link_to_a_missing_page_or_heading_is_found(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    page = tmp_path / "docs" / "probe.md"
    page.write_text("# Probe\n\n[fine](architecture.md#layout) [gone](features/nothing.md) "
                    "[lost](operations.md#no-such-part) `[code](not-a-link.md)`\n", "utf-8")

    assert broken_links(page, tmp_path) == [
        "docs/probe.md: features/nothing.md (no such file)",
        "docs/probe.md: operations.md#no-such-part (no such heading)",
    ]


def test_the_readme_is_a_front_door_with_exactly_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert len(readme.splitlines()) <= 200
    blocks = re.findall(r"^```sh\n(.*?)^```", readme, re.S | re.M)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    assert commands == ["make demo", "make test"]
    for feature in docgen.feature_names():
        assert f"(docs/features/{feature}.md)" in readme


def test_the_docs_hold_nothing_undocumented_and_no_stale_page() -> None:
    assert docgen.problems() == []


def test_every_setting_is_in_the_settings_page_with_its_description() -> None:
    page = (ROOT / "docs" / "settings.md").read_text("utf-8")
    rows = docgen.settings_rows()
    assert len(rows) == len(Settings.model_fields) > 70
    for row in rows:
        assert f"| `{row.variable}`" in page
        assert row.description and row.description.replace("|", "\\|") in page


def test_a_setting_added_without_a_description_fails_the_check() -> None:
    with_new_setting = create_model("WithNewSetting", __base__=Settings, scrm_campaign_holdout_pct=(float, 10.0))

    found = docgen.problems(settings=with_new_setting)

    assert "setting SCRM_CAMPAIGN_HOLDOUT_PCT has no description= (config/settings.py)" in found
    assert "docs/settings.md is stale: run `make docs`" in found


def test_a_setting_added_with_a_description_only_needs_make_docs() -> None:
    described = create_model("Described", __base__=Settings, scrm_campaign_holdout_pct=(
        float, Field(10.0, ge=0, le=50, description="Share of an audience held out to measure a campaign.")))

    assert docgen.problems(settings=described) == ["docs/settings.md is stale: run `make docs`"]
    page = docgen.pages(settings=described)[Path("docs/settings.md")]
    assert ("| `SCRM_CAMPAIGN_HOLDOUT_PCT` | `10.0` | float, 0 – 50 | "
            "Share of an audience held out to measure a campaign. |") in page


def test_a_command_kind_or_feature_without_documentation_is_named() -> None:
    commands = [*docgen.command_rows(), CommandRow("loyalty", "活动 <名称>", ("campaign",), "", help="")]
    kinds = [*docgen.kind_rows(), KindRow("SOP trigger", "loyalty_joined", "loyalty.kinds", doc="")]
    features = [*docgen.feature_names(), "loyalty"]

    found = docgen.undocumented(docgen.settings_rows(), commands, kinds, features)

    assert found == [
        "chat command '活动' has no help= (loyalty)",
        "SOP trigger 'loyalty_joined' has no docstring or label (loyalty.kinds)",
        "feature 'loyalty' has no page docs/features/loyalty.md",
    ]


def test_every_registered_kind_is_checked() -> None:
    registries = {row.registry for row in docgen.kind_rows()}
    assert {"tag rule type", "SOP trigger", "lead pattern", "board metric"} <= registries
    names = {row.name for row in docgen.kind_rows()}
    assert {"rfm", "replenishment", "cart_abandoned", "sop_execution_rate"} <= names


def test_an_edited_generated_page_is_stale(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    assert docgen.stale(docgen.pages(root=tmp_path), tmp_path) == []
    page = tmp_path / "docs" / "chat-commands.md"
    page.write_text(page.read_text("utf-8").replace("今天的 SOP 待办", "今日待办"), "utf-8")

    assert docgen.stale(docgen.pages(root=tmp_path), tmp_path) == ["docs/chat-commands.md is stale: run `make docs`"]


def test_a_new_feature_page_is_listed_in_the_docs_index(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    (tmp_path / "docs" / "features" / "campaigns.md").write_text("# Campaigns\n\nMass sends.\n", "utf-8")

    index = docgen.pages(root=tmp_path)[Path("docs/README.md")]

    assert "- [Campaigns](features/campaigns.md)" in index
    assert docgen.stale(docgen.pages(root=tmp_path), tmp_path) == ["docs/README.md is stale: run `make docs`"]


def test_the_chat_commands_are_documented_once_from_their_help() -> None:
    generated = (ROOT / "docs" / "chat-commands.md").read_text("utf-8")
    by_hand = "".join(page.read_text("utf-8") for page in PAGES if page.name not in
                      {"chat-commands.md", "settings.md", "kinds.md"})
    for row in docgen.command_rows():
        assert row.help.replace("|", "\\|") in generated
        assert row.help not in by_hand, f"{row.usage}: its help is repeated by hand"


def named_files(package: Path) -> list[str]:
    """What a package's docstring names that is not there: ``x.py`` paths (from the package or the
    repository root) and each ``module``: of a module list."""
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text("utf-8"))) or ""
    missing = [name for name in re.findall(r"[\w/]+\.py\b", doc)
               if not (package / name).exists() and not (ROOT / name).exists()]
    for module in re.findall(r"``([a-z_]+)``:", doc):
        if not (package / f"{module}.py").exists() and not (package / module).is_dir():
            missing.append(f"{module} (a module of {package.name})")
    return missing


def test_package_docstrings_name_only_files_that_exist() -> None:
    packages = [path.parent for path in sorted(ROOT.glob("*/__init__.py")) if path.parent.name not in {"tests"}]
    packages += [path.parent for path in sorted(ROOT.glob("*/*/__init__.py")) if "migrations" not in str(path)]
    assert {"tagging", "sidebar", "predict"} <= {package.name for package in packages}
    assert {package.name: named_files(package) for package in packages if named_files(package)} == {}


def test_the_pages_do_not_depend_on_which_module_a_process_imported_first() -> None:
    # The registry's order is import order: a process that imported handlers.sop first must
    # still generate the same pages, or the check would fail in one process and pass in another.
    for first in ("handlers.sop", "handlers.channels"):
        code = f"import {first}\nfrom bot import docgen\nprint(docgen.problems())"
        done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                              check=True)
        assert done.stdout.strip() == "[]", first
