"""Contact-way codes (联系我): ``add_contact_way``, ``get_contact_way``, ``update_contact_way``,
``del_contact_way``, ``list_contact_way``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from simulator.apis.base import (
    ApiRequest,
    Endpoint,
    bounded_limit,
    decode_cursor,
    optional_int,
    optional_str,
    page,
    require_member,
    require_str,
)
from simulator.errors import ApiError, ErrCode
from simulator.models import ContactWay
from simulator.qrcodes import qr_url

__all__ = ["ENDPOINTS"]

_STATE_MAX_CHARS = 30
_REMARK_MAX_CHARS = 30
_MAX_MEMBERS = 100


def _members(request: ApiRequest, way_type: int) -> tuple[list[str], list[int]]:
    users = request.body.get("user") or []
    parties = request.body.get("party") or []
    if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
        raise ApiError(ErrCode.INVALID_PARAMETER, "user must be a list of userids")
    if not isinstance(parties, list) or not all(isinstance(p, int) and not isinstance(p, bool) for p in parties):
        raise ApiError(ErrCode.INVALID_PARAMETER, "party must be a list of department ids")
    if not users and not parties:
        raise ApiError(ErrCode.MISSING_USERID, "user and party are both empty")
    if len(users) + len(parties) > _MAX_MEMBERS:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"at most {_MAX_MEMBERS} users and parties")
    if way_type == 1 and (len(users) != 1 or parties):
        raise ApiError(ErrCode.INVALID_PARAMETER, "a single contact way has exactly one user")
    for userid in users:
        require_member(request.state, userid)
    for party in parties:
        if party not in request.state.departments:
            raise ApiError(ErrCode.INVALID_PARTY_ID, str(party))
    return list(users), list(parties)


def _text(request: ApiRequest, name: str, limit: int) -> str:
    value = optional_str(request.body, name)
    if len(value) > limit:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"{name} exceeds {limit} characters")
    return value


def _way(request: ApiRequest) -> ContactWay:
    config_id = require_str(request.body, "config_id", ErrCode.INVALID_PARAMETER)
    way = request.state.contact_ways.get(config_id)
    if way is None:  # never made, or deleted already
        raise ApiError(ErrCode.INVALID_PARAMETER, f"invalid config_id {config_id}")
    return way


def add_contact_way(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    way_type = optional_int(request.body, "type", 0)
    scene = optional_int(request.body, "scene", 0)
    if way_type not in (1, 2) or scene not in (1, 2):
        raise ApiError(ErrCode.INVALID_PARAMETER, "type and scene must be 1 or 2")
    users, parties = _members(request, way_type)
    way_state = _text(request, "state", _STATE_MAX_CHARS)
    remark = _text(request, "remark", _REMARK_MAX_CHARS)
    config_id = state.ids.make("", 32)
    qr_code = qr_url(state, config_id) if scene == 2 else ""
    state.contact_ways[config_id] = ContactWay(
        config_id, way_type, scene, users, way_state, bool(request.body.get("skip_verify", True)), qr_code, remark,
        parties,
    )
    answer: dict[str, Any] = {"config_id": config_id}
    if qr_code:
        answer["qr_code"] = qr_code
    return answer


def get_contact_way(request: ApiRequest) -> dict[str, Any]:
    way = _way(request)
    view = asdict(way)
    view["user"], view["party"] = view.pop("users"), view.pop("parties")
    del view["scans"]
    return {"contact_way": view}


def update_contact_way(request: ApiRequest) -> dict[str, Any]:
    """Only the fields sent change; ``user``/``party`` replace the members when either is sent."""
    way = _way(request)
    if "user" in request.body or "party" in request.body:
        way.users, way.parties = _members(request, way.type)
    if "state" in request.body:
        way.state = _text(request, "state", _STATE_MAX_CHARS)
    if "remark" in request.body:
        way.remark = _text(request, "remark", _REMARK_MAX_CHARS)
    if "skip_verify" in request.body:
        way.skip_verify = bool(request.body["skip_verify"])
    return {}


def del_contact_way(request: ApiRequest) -> dict[str, Any]:
    way = _way(request)
    del request.state.contact_ways[way.config_id]
    return {}


def list_contact_way(request: ApiRequest) -> dict[str, Any]:
    ways = list(request.state.contact_ways)
    offset = decode_cursor(request.body)
    end, next_cursor = page(len(ways), offset, bounded_limit(request.body, default=100, maximum=1000))
    return {"contact_way": [{"config_id": c} for c in ways[offset:end]], "next_cursor": next_cursor}


ENDPOINTS = (
    Endpoint("externalcontact/add_contact_way", "POST", add_contact_way),
    Endpoint("externalcontact/get_contact_way", "POST", get_contact_way),
    Endpoint("externalcontact/update_contact_way", "POST", update_contact_way),
    Endpoint("externalcontact/del_contact_way", "POST", del_contact_way),
    Endpoint("externalcontact/list_contact_way", "POST", list_contact_way),
)
