"""The address book: ``department/list``, ``user/list_id``, ``user/list``."""

from __future__ import annotations

from typing import Any

from simulator.addressbook import is_leader_in_dept, listed_members, subtree
from simulator.apis.base import ApiRequest, Endpoint, decode_cursor, optional_int, page
from simulator.errors import ApiError, ErrCode
from simulator.models import Department, Member
from simulator.state import SimulatorState

__all__ = ["ENDPOINTS", "member_view"]

_LIST_ID_MAX = 10000


def _department_view(department: Department) -> dict[str, Any]:
    return {
        "id": department.id,
        "name": department.name,
        "name_en": "",
        "department_leader": list(department.department_leader),
        "parentid": department.parentid,
        "order": department.order,
    }


def member_view(state: SimulatorState, member: Member) -> dict[str, Any]:
    """A member as ``user/get`` and ``user/list`` describe them."""
    return {
        "userid": member.userid,
        "name": member.name,
        "department": list(member.department),
        "order": [0] * len(member.department),
        "main_department": member.department[0] if member.department else 1,
        "is_leader_in_dept": is_leader_in_dept(state, member),
        "position": member.position,
        "status": member.status,
    }


def _department_id(request: ApiRequest, name: str, *, required: bool) -> int | None:
    raw = request.query.get(name, "")
    if not raw:
        if required:
            raise ApiError(ErrCode.INVALID_PARTY_ID, f"missing {name}")
        return None
    if not raw.isdigit() or int(raw) not in request.state.departments:
        raise ApiError(ErrCode.INVALID_PARTY_ID, raw)
    return int(raw)


def list_departments(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    root = _department_id(request, "id", required=False)
    ids = subtree(state, root) if root is not None else set(state.departments)
    return {"department": [_department_view(state.departments[i]) for i in sorted(ids)]}


def list_user_ids(request: ApiRequest) -> dict[str, Any]:
    """One ``{userid, department}`` per member and department, paged by an opaque cursor."""
    pairs = [
        {"userid": member.userid, "department": department}
        for member in listed_members(request.state)
        for department in member.department
    ]
    offset = decode_cursor(request.body)
    limit = optional_int(request.body, "limit", _LIST_ID_MAX)
    if not 1 <= limit <= _LIST_ID_MAX:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"limit must be 1..{_LIST_ID_MAX}")
    end, next_cursor = page(len(pairs), offset, limit)
    return {"next_cursor": next_cursor, "dept_user": pairs[offset:end]}


def list_users(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    department = _department_id(request, "department_id", required=True)
    assert department is not None
    scope = subtree(state, department) if request.query.get("fetch_child") == "1" else {department}
    members = [m for m in listed_members(state) if scope & set(m.department)]
    return {"userlist": [member_view(state, m) for m in members]}


ENDPOINTS = (
    Endpoint("department/list", "GET", list_departments),
    Endpoint("user/list_id", "POST", list_user_ids),
    Endpoint("user/list", "GET", list_users),
)
