"""The simulated address book: departments and members, seeded for tests and changed as an admin would.

Each change returns the inner XML of the ``change_contact`` callback WeCom sends for it
(``create_user``, ``update_user``, ``delete_user``, ``create_party``, ``update_party``,
``delete_party``). A deleted member stays in ``state.members`` with status 5 (left the company):
WeCom still knows them for the resigned hand-over, but no longer lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from simulator.eventxml import SYS_SENDER, cdata
from simulator.models import MEMBER_ACTIVE, MEMBER_RESIGNED, Department, Member
from simulator.state import SimulatorState

__all__ = [
    "ADDRESS_BOOK_EVENTS",
    "add_department",
    "create_department",
    "delete_department",
    "delete_member",
    "hire_member",
    "is_leader_in_dept",
    "listed_members",
    "move_member",
    "rename_department",
    "seed_member",
    "subtree",
]


def add_department(
    state: SimulatorState, department_id: int, name: str, *, parentid: int = 1, leaders: Sequence[str] = ()
) -> Department:
    """Seed a department (no callback)."""
    if parentid and parentid not in state.departments:
        raise KeyError(f"no parent department {parentid}")
    department = Department(department_id, name, parentid, order=department_id, department_leader=list(leaders))
    state.departments[department_id] = department
    return department


def seed_member(
    state: SimulatorState, userid: str, name: str, departments: Sequence[int], *, leader: bool = False
) -> Member:
    """Seed a member in ``departments`` (the first is the main one); ``leader`` of each (no callback)."""
    unknown = [d for d in departments if d not in state.departments]
    if unknown:
        raise KeyError(f"no departments {unknown}")
    member = state.add_member(userid, name, department=departments)
    if leader:
        for department_id in departments:
            state.departments[department_id].department_leader.append(userid)
    return member


def listed_members(state: SimulatorState) -> list[Member]:
    """The members WeCom lists (those who left are not)."""
    return [m for m in state.members.values() if m.status != MEMBER_RESIGNED]


def subtree(state: SimulatorState, root: int) -> set[int]:
    found = {root}
    grew = True
    while grew:
        more = {d.id for d in state.departments.values() if d.parentid in found} - found
        found |= more
        grew = bool(more)
    return found


def is_leader_in_dept(state: SimulatorState, member: Member) -> list[int]:
    """user/get's ``is_leader_in_dept``: 1/0 for each of the member's departments, in order."""
    return [
        1 if member.userid in state.departments.get(d, Department(d, "")).department_leader else 0
        for d in member.department
    ]


# --- changes an admin makes in the console, with the callback WeCom sends ----------------------------


def _event(state: SimulatorState, change_type: str, fields: Iterable[tuple[str, str | int | None]]) -> str:
    parts = [
        f"<ToUserName>{cdata(state.corp_id)}</ToUserName>",
        f"<FromUserName>{cdata(SYS_SENDER)}</FromUserName>",
        f"<CreateTime>{state.clock.now_int()}</CreateTime>",
        f"<MsgType>{cdata('event')}</MsgType>",
        f"<Event>{cdata('change_contact')}</Event>",
        f"<ChangeType>{cdata(change_type)}</ChangeType>",
    ]
    for name, value in fields:
        if value is not None:
            parts.append(f"<{name}>{value if isinstance(value, int) else cdata(value)}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def _member_fields(state: SimulatorState, member: Member) -> list[tuple[str, str | int | None]]:
    return [
        ("UserID", member.userid),
        ("Name", member.name),
        ("Department", ",".join(str(d) for d in member.department)),
        ("MainDepartment", member.department[0] if member.department else 1),
        ("IsLeaderInDept", ",".join(str(flag) for flag in is_leader_in_dept(state, member))),
        ("Position", member.position),
        ("Status", member.status),
    ]


def hire_member(
    state: SimulatorState, userid: str, name: str, departments: Sequence[int], *, leader: bool = False
) -> str:
    """An admin adds a member: ``create_user``."""
    member = seed_member(state, userid, name, departments, leader=leader)
    return _event(state, "create_user", _member_fields(state, member))


def move_member(
    state: SimulatorState, userid: str, departments: Sequence[int], *, leader: bool | None = None
) -> str:
    """An admin moves a member to other departments (and makes them lead there, or not): ``update_user``."""
    member = state.members[userid]
    for department in state.departments.values():
        if userid in department.department_leader and (leader is False or department.id not in departments):
            department.department_leader.remove(userid)
    member.department = list(departments)
    if leader:
        for department_id in departments:
            if userid not in state.departments[department_id].department_leader:
                state.departments[department_id].department_leader.append(userid)
    return _event(state, "update_user", _member_fields(state, member))


def delete_member(state: SimulatorState, userid: str) -> str:
    """An admin deletes a member (they left): ``delete_user``. Their customers await a resigned hand-over."""
    member = state.members[userid]
    member.status = MEMBER_RESIGNED
    for department in state.departments.values():
        if userid in department.department_leader:
            department.department_leader.remove(userid)
    return _event(state, "delete_user", [("UserID", userid)])


def create_department(state: SimulatorState, department_id: int, name: str, *, parentid: int = 1) -> str:
    department = add_department(state, department_id, name, parentid=parentid)
    fields: list[tuple[str, str | int | None]] = [
        ("Id", department.id), ("Name", name), ("ParentId", parentid), ("Order", department.order)
    ]
    return _event(state, "create_party", fields)


def rename_department(state: SimulatorState, department_id: int, name: str) -> str:
    state.departments[department_id].name = name
    return _event(state, "update_party", [("Id", department_id), ("Name", name)])


def delete_department(state: SimulatorState, department_id: int) -> str:
    """WeCom refuses to delete a department that still has members or sub-departments."""
    if any(d.parentid == department_id for d in state.departments.values()):
        raise ValueError(f"department {department_id} has sub-departments")
    if any(department_id in m.department and m.status == MEMBER_ACTIVE for m in state.members.values()):
        raise ValueError(f"department {department_id} has members")
    del state.departments[department_id]
    return _event(state, "delete_party", [("Id", department_id)])


# --- for POST /_sim/events/<kind> (simulator/scenarios.py) --------------------------------------


def _departments(body: Mapping[str, Any]) -> list[int]:
    value = body.get("department", [1])
    if not isinstance(value, list) or not all(isinstance(d, int) for d in value):
        raise ValueError("department must be a list of department ids")
    return value


ADDRESS_BOOK_EVENTS: Mapping[str, Callable[[SimulatorState, Mapping[str, Any]], list[str]]] = {
    "member_create": lambda state, body: [
        hire_member(state, str(body["userid"]), str(body.get("name", body["userid"])), _departments(body),
                    leader=bool(body.get("leader", False)))
    ],
    "member_update": lambda state, body: [
        move_member(state, str(body["userid"]), _departments(body),
                    leader=None if body.get("leader") is None else bool(body["leader"]))
    ],
    "member_delete": lambda state, body: [delete_member(state, str(body["userid"]))],
    "party_create": lambda state, body: [
        create_department(state, int(body["id"]), str(body["name"]), parentid=int(body.get("parentid", 1)))
    ],
    "party_update": lambda state, body: [rename_department(state, int(body["id"]), str(body["name"]))],
    "party_delete": lambda state, body: [delete_department(state, int(body["id"]))],
}
