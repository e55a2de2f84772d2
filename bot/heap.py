"""Freed heap memory given back to the OS (glibc's ``malloc_trim``).

A worker's jobs come in bursts (a re-tag of everyone, a board over every customer): the memory they free stays
in glibc's arenas, so the process's resident size only ever rises to its last peak and looks like a leak. A
trim now and then returns the free pages; it takes milliseconds. Elsewhere (musl, macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

__all__ = ["trim_heap"]


def _find_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _find_trim()


def trim_heap() -> bool:
    """Return free heap pages to the OS; False where the C library cannot."""
    return _TRIM is not None and bool(_TRIM(0))
