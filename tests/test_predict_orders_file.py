"""``scrm predict evaluate --orders`` meets a hostile or broken file: it is read as a stream, within caps,
and every bad line is named (line number and reason) in one line on stderr, never a traceback."""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from predict.cli import add_arguments
from predict.history import HistoryError, OrdersLimits, read_orders_file
from tests.conftest import no_backend

# No database here: the same answers on either backend, so they run once.
pytestmark = no_backend


def scrm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def refused(path: Path) -> str:
    """The one line an operator reads when the file is refused."""
    done = scrm("predict", "evaluate", "--orders", str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_gzip_bomb_is_refused_without_inflating_it_in_memory(tmp_path: Path) -> None:
    """100 MB of zeros in a ~100 KB gzip: one "line" far over the cap, read in small pieces."""
    bomb = tmp_path / "orders.txt.gz"
    bomb.write_bytes(gzip.compress(b"0" * 100_000_000, compresslevel=9))
    assert bomb.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(HistoryError, match="line 1: longer than"):
            read_orders_file(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    assert "line 1: longer than" in refused(bomb)


def test_the_decompressed_size_and_the_rows_are_capped(tmp_path: Path) -> None:
    rows = tmp_path / "many.txt.gz"
    rows.write_bytes(gzip.compress(b"".join(b"%05d 19970101 1 11.77\n" % (i % 1000) for i in range(20_000))))
    with pytest.raises(HistoryError, match=r"line 1001: more than 1000 rows"):
        read_orders_file(rows, limits=OrdersLimits(max_rows=1000))
    with pytest.raises(HistoryError, match=r"line \d+: the file is larger than 100000 bytes"):
        read_orders_file(rows, limits=OrdersLimits(max_bytes=100_000))
    assert read_orders_file(rows).size == 1000  # within the default caps: read whole


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("00001 19970101 1 11.77\n00002 19970102 1 nan\n", "line 2: amount 'nan' is not a finite number ≥ 0"),
        ("00001 19970101 1 inf\n", "line 1: amount 'inf' is not a finite number ≥ 0"),
        ("00001 19970101 1 1e400\n", "line 1: amount '1e400' is not a finite number ≥ 0"),
        ("00001 19970101 1 11.77\n00001 19970105 1 -5\n", "line 2: amount '-5' is not a finite number ≥ 0"),
        ("00001 19970101 nan 11.77\n", "line 1: quantity 'nan' is not a finite number ≥ 0"),
        ("00001 19970231 1 11.77\n", "line 1: date '19970231' is not a day (YYYYMMDD)"),
        ("00001 1997-01-1 1 11.77\n", "line 1: date '1997-01-1' is not a day (YYYYMMDD)"),
        ("00001 00010101 1 11.77\n", "line 1: date '00010101' is outside 1970-2100"),
        ("00001 19970101 1 11.77\n00002 19970102 1 \xff\n", "line 2: amount 'ÿ' is not a finite number ≥ 0"),
        ("order_id,external_userid,amount,paid_at\no1,wm1,NaN,2020-01-01T10:00:00+08:00\n",
         "line 2: amount 'NaN' is not a finite number ≥ 0"),
        ("order_id,external_userid,amount,paid_at\no1,wm1,10,2020-01-01T10:00:00+08:00\n"
         "o2,wm1,-1,2020-01-02T10:00:00+08:00\n", "line 3: amount '-1' is not a finite number ≥ 0"),
        ("order_id,external_userid,amount,paid_at\no1,wm1,10,2020-02-30T10:00:00+08:00\n",
         "line 2: paid_at '2020-02-30T10:00:00+08:00' is not a date and time"),
        ("order_id,external_userid,amount,paid_at\no1,wm1,10,9999-01-01T10:00:00+08:00\n",
         "line 2: paid_at '9999-01-01T10:00:00+08:00' is outside 1970-2100"),
    ],
)
def test_non_finite_amounts_and_impossible_dates_are_refused_by_line(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / ("orders.csv" if content.startswith("order_id") else "orders.txt")
    path.write_text(content, encoding="utf-8")
    with pytest.raises(HistoryError) as caught:
        read_orders_file(path)
    assert str(caught.value) == reason


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"00001 19970101 1 11.77\n\x00\x01binary\xff\xfe\n", "line 2: not UTF-8 text"),
        (gzip.compress(b"00001 19970101 1 11.77\n" * 5000)[:300], "the gzip stream is truncated or corrupt"),
        (b"\x1f\x8bnot really gzip", "the gzip stream is truncated or corrupt"),
        (b'order_id,external_userid,amount,paid_at\no1,wm1,"10\x00",2020-01-01T10:00:00+08:00\n', "line 2:"),
    ],
)
def test_malformed_files_end_in_one_clean_line(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "orders.bin"
    path.write_bytes(content)
    line = refused(path)
    assert line.startswith(f"scrm predict: {path}: ") and reason in line, line


def test_a_directory_or_a_missing_file_is_one_line_too(tmp_path: Path) -> None:
    assert "Is a directory" in refused(tmp_path)
    assert "No such file" in refused(tmp_path / "absent.txt")


def test_a_good_file_still_reads_whole(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "external_userid", "amount", "paid_at"])
        writer.writerow(["o1", "wm1", "¥1,200.50", "2020-01-01T10:00:00+08:00"])
        writer.writerow(["o1", "wm1", "¥1,200.50", "2020-01-01T10:00:00+08:00"])  # a second item, same order
        writer.writerow(["o2", "wm2", "0", "2020-01-02T10:00:00+08:00"])
    history = read_orders_file(path)
    assert history.ids == ("wm1", "wm2") and list(history.amount) == [1200.5, 0.0]


def test_the_help_states_the_caps_the_reader_applies() -> None:
    import argparse

    from predict.history import MAX_LINE_BYTES, MAX_ORDERS_BYTES, MAX_ORDERS_ROWS

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert f"{MAX_ORDERS_BYTES >> 30} GiB" in text and f"{MAX_ORDERS_ROWS:,} rows" in text
    assert f"{MAX_LINE_BYTES >> 10} KiB a line" in text


def test_a_scores_file_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    orders = tmp_path / "orders.txt"
    orders.write_text("".join(f"{i % 50:05d} 1997{1 + i % 12:02d}{1 + i % 28:02d} 1 {10 + i % 7}.50\n"
                              for i in range(600)))
    done = scrm("predict", "evaluate", "--orders", str(orders), "--scores", str(tmp_path / "no" / "scores.csv"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "No such file or directory" in done.stderr
