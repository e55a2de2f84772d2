"""获客助手 (acquisition links): ``customer_acquisition/create_link``, ``get``, ``list_link``, ``update_link``,
``delete_link`` and ``customer_acquisition_quota``; and the two ways a member becomes a guide's contact
that this family plays: opening a link (its ``customer_channel`` comes back as ``State``) and a guide
adding them by phone search (the phone lands in ``follow_user[].remark_mobiles``).

The corp's link count and its paid quota are limited: a link past ``link_limit`` is refused with
``LINK_LIMIT``, any link once ``balance`` is spent with ``NO_QUOTA`` (each add through a link spends one).
These errcodes are this simulator's; the product names them (acquisition/wecomapi.py).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulator import eventxml
from simulator.apis.base import (
    ApiRequest,
    Endpoint,
    bounded_limit,
    decode_cursor,
    optional_dict,
    page,
    require_member,
    require_str,
    str_list,
)
from simulator.errors import ApiError, ErrCode
from simulator.state import SimulatorState

__all__ = ["ENDPOINTS", "LINK_LIMIT", "NO_LINK", "NO_QUOTA", "AcquisitionState", "Link", "acquisition_of",
           "customer_opens_link", "guide_adds_by_phone"]

LINK_LIMIT, NO_QUOTA, NO_LINK = 41068, 41069, 41070
_STATE_MAX_BYTES = 64
_NAME_MAX = 30


@dataclass
class Link:
    link_id: str
    link_name: str
    url: str
    create_time: int
    users: list[str]
    departments: list[int]
    skip_verify: bool = True
    turn: int = 0  # whose turn it is among the range's members


@dataclass
class AcquisitionState:
    links: dict[str, Link] = field(default_factory=dict)
    link_limit: int = 1000
    total: int = 10_000  # the quota bought
    balance: int = 10_000  # what is left of it


_STATES: weakref.WeakKeyDictionary[SimulatorState, AcquisitionState] = weakref.WeakKeyDictionary()


def acquisition_of(state: SimulatorState) -> AcquisitionState:
    """This corp's links and quota (kept beside the shared state, not in it)."""
    found = _STATES.get(state)
    if found is None:
        found = _STATES[state] = AcquisitionState()
    return found


def _range(request: ApiRequest) -> tuple[list[str], list[int]]:
    scope = optional_dict(request.body, "range") or {}
    users = str_list(scope, "user_list", max_items=500)
    departments = scope.get("department_list") or []
    if not isinstance(departments, list) or not all(isinstance(d, int) for d in departments):
        raise ApiError(ErrCode.INVALID_PARAMETER, "department_list must be a list of department ids")
    if not users and not departments:
        raise ApiError(ErrCode.MISSING_USERID, "range is empty")
    for userid in users:
        require_member(request.state, userid)
    return users, departments


def _name(request: ApiRequest) -> str:
    name = require_str(request.body, "link_name")
    if len(name) > _NAME_MAX:
        raise ApiError(ErrCode.INVALID_PARAMETER, f"link_name exceeds {_NAME_MAX} characters")
    return name


def _link(request: ApiRequest) -> Link:
    link_id = require_str(request.body, "link_id")
    link = acquisition_of(request.state).links.get(link_id)
    if link is None:
        raise ApiError(NO_LINK, f"invalid link_id {link_id}")
    return link


def _view(link: Link) -> dict[str, Any]:
    return {"link_id": link.link_id, "link_name": link.link_name, "url": link.url, "create_time": link.create_time}


def create_link(request: ApiRequest) -> dict[str, Any]:
    corp = acquisition_of(request.state)
    name = _name(request)
    users, departments = _range(request)
    if len(corp.links) >= corp.link_limit:
        raise ApiError(LINK_LIMIT, "acquisition link count exceeds the limit")
    if corp.balance <= 0:
        raise ApiError(NO_QUOTA, "acquisition quota is used up")
    link_id = request.state.ids.make("cawcde", 16)
    link = Link(link_id, name, f"https://work.weixin.qq.com/ca/{link_id}", int(request.now), users, departments,
                bool(request.body.get("skip_verify", True)))
    corp.links[link_id] = link
    return {"link": _view(link)}


def get_link(request: ApiRequest) -> dict[str, Any]:
    link = _link(request)
    return {"link": _view(link), "range": {"user_list": link.users, "department_list": link.departments},
            "skip_verify": link.skip_verify}


def list_link(request: ApiRequest) -> dict[str, Any]:
    ids = list(acquisition_of(request.state).links)
    offset = decode_cursor(request.body)
    end, next_cursor = page(len(ids), offset, bounded_limit(request.body, default=100, maximum=100))
    return {"link_id_list": ids[offset:end], "next_cursor": next_cursor}


def update_link(request: ApiRequest) -> dict[str, Any]:
    link = _link(request)
    if "link_name" in request.body:
        link.link_name = _name(request)
    if "range" in request.body:
        link.users, link.departments = _range(request)
    if "skip_verify" in request.body:
        link.skip_verify = bool(request.body["skip_verify"])
    return {}


def delete_link(request: ApiRequest) -> dict[str, Any]:
    link = _link(request)
    del acquisition_of(request.state).links[link.link_id]
    return {}


def quota(request: ApiRequest) -> dict[str, Any]:
    corp = acquisition_of(request.state)
    return {"total": corp.total, "balance": corp.balance,
            "quota_list": [{"expire_date": int(request.now) + 365 * 86400, "balance": corp.balance}]}


ENDPOINTS = (
    Endpoint("externalcontact/customer_acquisition/create_link", "POST", create_link),
    Endpoint("externalcontact/customer_acquisition/get", "POST", get_link),
    Endpoint("externalcontact/customer_acquisition/list_link", "POST", list_link),
    Endpoint("externalcontact/customer_acquisition/update_link", "POST", update_link),
    Endpoint("externalcontact/customer_acquisition/delete_link", "POST", delete_link),
    Endpoint("externalcontact/customer_acquisition_quota", "GET", quota),
)


# --- what customers and guides do (the inner XML WeCom calls back with) ------------------------------


def customer_opens_link(
    state: SimulatorState, url: str, external_userid: str | None = None, *, name: str | None = None,
    unionid: str = "",
) -> str:
    """A customer opens a link's url (with ``?customer_channel=…`` or not) and adds the member whose turn
    it is: the add's ``State`` is the ``customer_channel`` value (at most 64 bytes). One quota spent."""
    corp = acquisition_of(state)
    parts = urlsplit(url)
    link = next((k for k in corp.links.values() if k.url == f"{parts.scheme}://{parts.netloc}{parts.path}"), None)
    if link is None:
        raise KeyError(f"no acquisition link at {url!r}")
    channel = parse_qs(parts.query).get("customer_channel", [""])[0]
    if len(channel.encode()) > _STATE_MAX_BYTES:
        channel = channel.encode()[:_STATE_MAX_BYTES].decode(errors="ignore")
    userid = link.users[link.turn % len(link.users)]
    link.turn += 1
    corp.balance -= 1
    if external_userid is None or external_userid not in state.contacts:
        external_userid = state.add_external_contact(external_userid, name, unionid=unionid).external_userid
    state.relate(userid, external_userid, state=channel, add_way=1)
    return eventxml.change_external_contact(state.corp_id, state.clock.now_int(), "add_external_contact", userid,
                                            external_userid, state=channel or None,
                                            welcome_code=state.mint_welcome_code(userid, external_userid))


def guide_adds_by_phone(
    state: SimulatorState, userid: str, phone: str, external_userid: str | None = None, *, name: str | None = None,
    unionid: str = "",
) -> str:
    """The guide searches a phone in 添加客户 and the customer accepts: WeCom keeps the phone in the
    relation's ``remark_mobiles``; the add has no ``State``."""
    if userid not in state.members:
        raise KeyError(f"no member {userid!r}")
    if external_userid is None or external_userid not in state.contacts:
        external_userid = state.add_external_contact(external_userid, name, unionid=unionid).external_userid
    relation = state.relate(userid, external_userid, add_way=2)
    relation.remark_mobiles = [phone]
    return eventxml.change_external_contact(state.corp_id, state.clock.now_int(), "add_external_contact", userid,
                                            external_userid, welcome_code=state.mint_welcome_code(userid,
                                                                                                  external_userid))
