"""Mainland mobile numbers: normalised once (E.164), and masked wherever a person or a log reads them."""

from __future__ import annotations

import re

__all__ = ["PhoneRejected", "mask", "normalise"]

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_SEPARATORS = re.compile(r"[\s\-()（）]")


class PhoneRejected(ValueError):
    """Not a mainland mobile number."""


def normalise(text: str) -> str:
    """``138 1234 5678``, ``+86-13812345678``, ``008613812345678`` → ``+8613812345678``."""
    digits = _SEPARATORS.sub("", text.strip())
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix):]
            break
    if not _MOBILE.fullmatch(digits):
        raise PhoneRejected("not a mainland mobile number")
    return f"+86{digits}"


def mask(phone: str) -> str:
    """``+8613812341234`` → ``138****1234`` (what every message, page and log shows)."""
    local = phone.removeprefix("+86")
    return f"{local[:3]}****{local[-4:]}" if len(local) == 11 else "****"
