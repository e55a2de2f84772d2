"""What every simulated API shares: the request it gets, how it is registered, field checks.

A handler is a plain function ``(ApiRequest) -> dict``: it reads and changes the state and either
returns the answer's fields (errcode 0 is added for it) or raises ``ApiError``. Handlers never do
I/O, so they are synchronous.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.errors import ApiError, ErrCode
from simulator.state import SimulatorState

__all__ = [
    "ApiRequest",
    "Endpoint",
    "Handler",
    "bounded_limit",
    "decode_cursor",
    "encode_cursor",
    "optional_dict",
    "optional_int",
    "optional_str",
    "page",
    "require_member",
    "require_str",
    "str_list",
]


@dataclass(frozen=True)
class ApiRequest:
    api: str  # e.g. "externalcontact/mark_tag": the path after /cgi-bin/
    method: str
    query: Mapping[str, str]  # without access_token
    body: Mapping[str, Any]  # the JSON object of a POST; empty for GET
    state: SimulatorState

    @property
    def now(self) -> float:
        return self.state.now()


Handler = Callable[[ApiRequest], dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    api: str
    method: str  # "GET" or "POST", as WeCom documents the API
    handler: Handler
    needs_token: bool = True


def require_str(data: Mapping[str, Any], name: str, errcode: int = ErrCode.INVALID_PARAMETER) -> str:
    """A non-empty string field, or ``errcode`` (WeCom answers missing fields with an errcode)."""
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # WeCom accepts numbers where it documents strings (e.g. agentid)
    if not isinstance(value, str) or not value:
        raise ApiError(errcode, f"missing or invalid {name}")
    return value


def optional_str(data: Mapping[str, Any], name: str, default: str = "") -> str:
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ApiError(ErrCode.INVALID_PARAMETER, f"{name} must be a string")
    return value


def optional_int(data: Mapping[str, Any], name: str, default: int) -> int:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(ErrCode.INVALID_PARAMETER, f"{name} must be an integer")
    return value


def optional_dict(data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(ErrCode.INVALID_PARAMETER, f"{name} must be an object")
    return value


def str_list(
    data: Mapping[str, Any],
    name: str,
    *,
    required_errcode: int | None = None,
    max_items: int | None = None,
) -> list[str]:
    """A list of strings; missing/empty is an error only when ``required_errcode`` is given."""
    value = data.get(name)
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ApiError(ErrCode.INVALID_PARAMETER, f"{name} must be a list of strings")
    if not value and required_errcode is not None:
        raise ApiError(required_errcode, f"missing {name}")
    if max_items is not None and len(value) > max_items:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"{name} exceeds {max_items} items")
    return list(value)


def bounded_limit(data: Mapping[str, Any], default: int, maximum: int) -> int:
    limit = optional_int(data, "limit", default)
    if not 1 <= limit <= maximum:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"limit must be 1..{maximum}")
    return limit


def require_member(state: SimulatorState, userid: str) -> None:
    if userid not in state.members:
        raise ApiError(ErrCode.USERID_NOT_FOUND, userid)


def encode_cursor(offset: int) -> str:
    """An opaque cursor, as WeCom's are (clients must pass it back, not parse it)."""
    return base64.urlsafe_b64encode(f"sim:{offset}".encode()).decode().rstrip("=")


def decode_cursor(data: Mapping[str, Any]) -> int:
    """The offset a ``cursor`` field stands for; 0 when absent; 40058 when it is not ours."""
    cursor = optional_str(data, "cursor")
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as err:
        raise ApiError(ErrCode.INVALID_PARAMETER, "invalid cursor") from err
    prefix, _, offset = text.partition(":")
    if prefix != "sim" or not offset.isdigit():
        raise ApiError(ErrCode.INVALID_PARAMETER, "invalid cursor")
    return int(offset)


def page(total: int, offset: int, limit: int) -> tuple[int, str]:
    """The end of this page and the ``next_cursor`` ("" when nothing follows)."""
    end = min(total, offset + limit)
    return end, (encode_cursor(end) if end < total else "")
