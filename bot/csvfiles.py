"""CSV files the product writes, safe to open in a spreadsheet: every writer goes through ``csv_writer``.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
WPS and LibreOffice (OWASP "CSV injection"): a customer id or name from a file or from WeCom could run
``=HYPERLINK(…)`` or ``=cmd|…`` on the analyst's machine. Such a cell gets a leading ``'`` (shown as
text, not evaluated); a plain number (``-0.25``, ``1e-05``) is left as it is, since it cannot be a
formula. ``tests/test_csv_files.py`` fails if a module writes CSV another way.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["FORMULA_STARTS", "CsvWriter", "csv_writer", "spreadsheet_safe"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class _Text(Protocol):
    def write(self, text: str, /) -> Any: ...


def spreadsheet_safe(value: object) -> str:
    """The cell as text, a formula escaped."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class CsvWriter:
    """``csv.writer``'s ``writerow`` / ``writerows``, every cell through ``spreadsheet_safe``."""

    def __init__(self, out: _Text) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([spreadsheet_safe(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: _Text) -> CsvWriter:
    """A CSV writer for a file the product hands to people (open it with ``newline=""``)."""
    return CsvWriter(out)
