"""Corp tags and each (member, customer) tag set: ``get/add/edit/del_corp_tag``, ``mark_tag``."""

from __future__ import annotations

from typing import Any

from simulator.apis.base import (
    ApiRequest,
    Endpoint,
    optional_int,
    optional_str,
    require_member,
    require_str,
    str_list,
)
from simulator.errors import ApiError, ErrCode
from simulator.models import CorpTag, TagGroup
from simulator.state import SimulatorState

__all__ = ["ENDPOINTS"]

_TAG_NAME_MAX = 30


def _tag_view(tag: CorpTag, *, show_deleted: bool) -> dict[str, Any]:
    view: dict[str, Any] = {"id": tag.id, "name": tag.name, "create_time": tag.create_time, "order": tag.order}
    if show_deleted:
        view["deleted"] = tag.deleted
    return view


def _group_view(group: TagGroup, tags: list[CorpTag], *, show_deleted: bool) -> dict[str, Any]:
    # WeCom lists larger `order` first.
    ordered = sorted(tags, key=lambda tag: -tag.order)
    view: dict[str, Any] = {
        "group_id": group.group_id,
        "group_name": group.group_name,
        "create_time": group.create_time,
        "order": group.order,
        "tag": [_tag_view(tag, show_deleted=show_deleted) for tag in ordered],
    }
    if show_deleted:
        view["deleted"] = group.deleted
    return view


def get_corp_tag_list(request: ApiRequest) -> dict[str, Any]:
    """No filter: live groups and tags. ``group_id`` wins over ``tag_id`` (as WeCom documents);
    filtered queries also return deleted entries, flagged ``deleted``."""
    state = request.state
    group_ids = str_list(request.body, "group_id")
    tag_ids = str_list(request.body, "tag_id")
    if group_ids:
        groups = [state.tag_groups[gid] for gid in group_ids if gid in state.tag_groups]
        views = [_group_view(g, list(g.tags.values()), show_deleted=True) for g in groups]
    elif tag_ids:
        wanted = [state.tags[tid] for tid in tag_ids if tid in state.tags]
        by_group: dict[str, list[CorpTag]] = {}
        for tag in wanted:
            by_group.setdefault(tag.group_id, []).append(tag)
        views = [_group_view(state.tag_groups[gid], tags, show_deleted=True) for gid, tags in by_group.items()]
    else:
        live = [group for group in state.tag_groups.values() if not group.deleted]
        views = [
            _group_view(g, [t for t in g.tags.values() if not t.deleted], show_deleted=False)
            for g in sorted(live, key=lambda group: -group.order)
        ]
    return {"tag_group": views}


def _check_tag_name(name: str) -> None:
    if not name or len(name) > _TAG_NAME_MAX:
        raise ApiError(ErrCode.INVALID_TAG_NAME_LENGTH, name)


def _live_names(group: TagGroup) -> set[str]:
    return {tag.name for tag in group.tags.values() if not tag.deleted}


def _target_group(state: SimulatorState, request: ApiRequest) -> TagGroup:
    group_id = optional_str(request.body, "group_id")
    if group_id:
        group = state.tag_groups.get(group_id)
        if group is None or group.deleted:
            raise ApiError(ErrCode.INVALID_TAG_ID, group_id)
        return group
    group_name = require_str(request.body, "group_name")
    _check_tag_name(group_name)
    # A group_name that exists already gets the new tags; otherwise the group is created.
    for group in state.tag_groups.values():
        if group.group_name == group_name and not group.deleted:
            return group
    return state.add_tag_group(group_name, order=optional_int(request.body, "order", 0))


def add_corp_tag(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    raw_tags = request.body.get("tag")
    if not isinstance(raw_tags, list) or not raw_tags or not all(isinstance(t, dict) for t in raw_tags):
        raise ApiError(ErrCode.INVALID_PARAMETER, "tag must be a non-empty list")
    names = [require_str(t, "name", ErrCode.INVALID_TAG_NAME_LENGTH) for t in raw_tags]
    for name in names:
        _check_tag_name(name)
    if len(set(names)) != len(names):
        raise ApiError(ErrCode.DUPLICATE_TAG_NAME, "duplicate names in the request")
    group = _target_group(state, request)
    clash = _live_names(group) & set(names)
    if clash:
        raise ApiError(ErrCode.DUPLICATE_TAG_NAME, ",".join(sorted(clash)))
    created = [
        state.add_tag(group.group_id, name, order=optional_int(raw, "order", 0))
        for name, raw in zip(names, raw_tags, strict=True)
    ]
    return {"tag_group": _group_view(group, created, show_deleted=False)}


def edit_corp_tag(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    target_id = require_str(request.body, "id", ErrCode.INVALID_TAG_ID)
    name = optional_str(request.body, "name")
    if name:
        _check_tag_name(name)
    tag = state.tags.get(target_id)
    group = state.tag_groups.get(target_id)
    if tag is not None and not tag.deleted:
        if name and name != tag.name and name in _live_names(state.tag_groups[tag.group_id]):
            raise ApiError(ErrCode.DUPLICATE_TAG_NAME, name)
        tag.name = name or tag.name
        tag.order = optional_int(request.body, "order", tag.order)
    elif group is not None and not group.deleted:
        others = {g.group_name for g in state.tag_groups.values() if g is not group and not g.deleted}
        if name in others:
            raise ApiError(ErrCode.DUPLICATE_TAG_NAME, name)
        group.group_name = name or group.group_name
        group.order = optional_int(request.body, "order", group.order)
    else:
        raise ApiError(ErrCode.INVALID_TAG_ID, target_id)
    return {}


def del_corp_tag(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    tag_ids = str_list(request.body, "tag_id")
    group_ids = str_list(request.body, "group_id")
    if not tag_ids and not group_ids:
        raise ApiError(ErrCode.INVALID_PARAMETER, "tag_id and group_id are both empty")
    unknown = [i for i in tag_ids if i not in state.tags] + [i for i in group_ids if i not in state.tag_groups]
    if unknown:
        raise ApiError(ErrCode.INVALID_TAG_ID, ",".join(unknown))
    doomed = set(tag_ids)
    for group_id in group_ids:
        state.tag_groups[group_id].deleted = True
        doomed.update(state.tag_groups[group_id].tags)
    for tag_id in doomed:
        state.tags[tag_id].deleted = True
    # A deleted tag disappears from every customer; a group left with no live tag goes too.
    for by_contact in state.relations.values():
        for relation in by_contact.values():
            relation.tag_ids -= doomed
    for group in state.tag_groups.values():
        if group.tags and all(tag.deleted for tag in group.tags.values()):
            group.deleted = True
    return {}


def mark_tag(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    userid = require_str(request.body, "userid", ErrCode.MISSING_USERID)
    external_userid = require_str(request.body, "external_userid", ErrCode.INVALID_EXTERNAL_USERID)
    add = str_list(request.body, "add_tag")
    remove = str_list(request.body, "remove_tag")
    if not add and not remove:
        raise ApiError(ErrCode.INVALID_PARAMETER, "add_tag and remove_tag are both empty")
    require_member(state, userid)
    if external_userid not in state.contacts:
        raise ApiError(ErrCode.INVALID_EXTERNAL_USERID, external_userid)
    relation = state.relation(userid, external_userid)
    if relation is None:
        raise ApiError(ErrCode.NOT_EXTERNAL_CONTACT, f"{userid}/{external_userid}")
    # All-or-nothing: one bad id fails the whole call and changes nothing.
    bad = [tag_id for tag_id in (*add, *remove) if tag_id not in state.tags or state.tags[tag_id].deleted]
    if bad:
        raise ApiError(ErrCode.INVALID_TAG_ID, ",".join(bad))
    relation.tag_ids.update(add)
    relation.tag_ids.difference_update(remove)
    return {}


ENDPOINTS = (
    Endpoint("externalcontact/get_corp_tag_list", "POST", get_corp_tag_list),
    Endpoint("externalcontact/add_corp_tag", "POST", add_corp_tag),
    Endpoint("externalcontact/edit_corp_tag", "POST", edit_corp_tag),
    Endpoint("externalcontact/del_corp_tag", "POST", del_corp_tag),
    Endpoint("externalcontact/mark_tag", "POST", mark_tag),
)
