"""Error kinds the worker tells apart."""

from __future__ import annotations


class PermanentFailure(Exception):
    """Retrying cannot help (bad data, a permission WeCom refuses): dead-letter at once."""
