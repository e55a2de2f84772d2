"""Members and customers: ``user/get``, ``externalcontact/get``, ``list``, ``get_follow_user_list``,
``batch/get_by_user``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from simulator.addressbook import is_leader_in_dept
from simulator.apis.base import (
    ApiRequest,
    Endpoint,
    bounded_limit,
    decode_cursor,
    page,
    require_member,
    require_str,
    str_list,
)
from simulator.errors import ApiError, ErrCode
from simulator.models import MEMBER_ACTIVE, ExternalContact, FollowRelation
from simulator.state import SimulatorState

__all__ = ["ENDPOINTS"]

_BATCH_MAX_USERS = 100
_BATCH_MAX_LIMIT = 100


def _contact_view(contact: ExternalContact) -> dict[str, Any]:
    view = asdict(contact)
    # WeCom omits unionid / corp_name when it has none to give.
    for optional in ("unionid", "corp_name"):
        if not view[optional]:
            del view[optional]
    return view


def _relation_view(relation: FollowRelation, tags: dict[str, Any]) -> dict[str, Any]:
    """The fields ``follow_user`` (externalcontact/get) and ``follow_info`` (batch/get_by_user) share."""
    view: dict[str, Any] = {
        "userid": relation.userid,
        "remark": relation.remark,
        "description": relation.description,
        "createtime": relation.createtime,
        **tags,
        "remark_mobiles": list(relation.remark_mobiles),
        "add_way": relation.add_way,
        "oper_userid": relation.oper_userid,
    }
    if relation.state:
        view["state"] = relation.state
    return view


def _follow_user_view(state: SimulatorState, relation: FollowRelation) -> dict[str, Any]:
    tags = []
    for tag_id in sorted(relation.tag_ids):
        tag = state.tags.get(tag_id)
        if tag is None or tag.deleted:
            continue
        group = state.tag_groups[tag.group_id]
        tags.append({"group_name": group.group_name, "tag_name": tag.name, "tag_id": tag.id, "type": 1})
    return _relation_view(relation, {"tags": tags})


def _follow_info_view(relation: FollowRelation) -> dict[str, Any]:
    return _relation_view(relation, {"tag_id": sorted(relation.tag_ids)})


def get_user(request: ApiRequest) -> dict[str, Any]:
    userid = require_str(request.query, "userid", ErrCode.MISSING_USERID)
    member = request.state.members.get(userid)
    if member is None:
        raise ApiError(ErrCode.USERID_NOT_FOUND, userid)
    return {
        "userid": member.userid,
        "name": member.name,
        "department": member.department,
        "main_department": member.department[0] if member.department else 1,
        "position": member.position,
        "status": member.status,
        "is_leader_in_dept": is_leader_in_dept(request.state, member),
        "extattr": {"attrs": [{"type": 0, "name": "门店", "text": {"value": member.store}}]},
    }


def get_contact(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    external_userid = require_str(request.query, "external_userid", ErrCode.INVALID_EXTERNAL_USERID)
    contact = state.contacts.get(external_userid)
    if contact is None:
        raise ApiError(ErrCode.INVALID_EXTERNAL_USERID, external_userid)
    relations = state.relations_of_contact(external_userid)
    if not relations:
        raise ApiError(ErrCode.NOT_EXTERNAL_CONTACT, external_userid)
    return {
        "external_contact": _contact_view(contact),
        "follow_user": [_follow_user_view(state, relation) for relation in relations],
        "next_cursor": "",
    }


def get_follow_user_list(request: ApiRequest) -> dict[str, Any]:
    members = request.state.members.values()
    return {"follow_user": [m.userid for m in members if m.customer_contact and m.status == MEMBER_ACTIVE]}


def list_contacts(request: ApiRequest) -> dict[str, Any]:
    userid = require_str(request.query, "userid", ErrCode.MISSING_USERID)
    require_member(request.state, userid)
    external_userids = list(request.state.relations.get(userid, {}))
    if not external_userids:
        # WeCom's quirk: a member without customers is answered with 84061, not an empty list.
        raise ApiError(ErrCode.NOT_EXTERNAL_CONTACT, userid)
    return {"external_userid": external_userids}


def batch_get_by_user(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    userids = str_list(request.body, "userid_list", required_errcode=ErrCode.MISSING_USERID, max_items=_BATCH_MAX_USERS)
    offset = decode_cursor(request.body)
    limit = bounded_limit(request.body, default=50, maximum=_BATCH_MAX_LIMIT)
    # Unknown userids contribute nothing; the cursor walks the members in the order given.
    relations = [relation for userid in userids for relation in state.relations.get(userid, {}).values()]
    end, next_cursor = page(len(relations), offset, limit)
    return {
        "external_contact_list": [
            {
                "external_contact": _contact_view(state.contacts[relation.external_userid]),
                "follow_info": _follow_info_view(relation),
            }
            for relation in relations[offset:end]
        ],
        "next_cursor": next_cursor,
    }


ENDPOINTS = (
    Endpoint("user/get", "GET", get_user),
    Endpoint("externalcontact/get", "GET", get_contact),
    Endpoint("externalcontact/get_follow_user_list", "GET", get_follow_user_list),
    Endpoint("externalcontact/list", "GET", list_contacts),
    Endpoint("externalcontact/batch/get_by_user", "POST", batch_get_by_user),
)
