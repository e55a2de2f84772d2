"""``/_sim/*``: JSON control endpoints for users of a simulator running in another process.

These are ours, not WeCom's: bad requests get HTTP 400 with ``{"error": ...}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.crypto import CallbackCrypto
from simulator.callbacks import CallbackSender
from simulator.keys import CALLBACK_KEY, SESSION_KEY, STATE_KEY
from simulator.qrcodes import qr_png
from simulator.scenarios import EVENT_KINDS
from simulator.snapshot import call_view
from simulator.state import SimulatorState

__all__ = ["setup_control_routes"]


def _bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as err:
        raise _bad_request("body is not JSON") from err
    if not isinstance(body, dict):
        raise _bad_request("body must be a JSON object")
    return body


def _ok(payload: Mapping[str, Any]) -> web.Response:
    return web.json_response(dict(payload), dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


async def get_state(request: web.Request) -> web.Response:
    include_contacts = request.query.get("contacts", "1") not in ("0", "false")
    return _ok(request.app[STATE_KEY].snapshot(include_contacts=include_contacts))


async def get_calls(request: web.Request) -> web.Response:
    calls = request.app[STATE_KEY].calls
    api = request.query.get("api")
    if api:
        calls = [call for call in calls if call.api == api]
    return _ok({"count": len(calls), "calls": [call_view(call) for call in calls]})


async def delete_calls(request: web.Request) -> web.Response:
    request.app[STATE_KEY].clear_calls()
    return _ok({"cleared": True})


async def post_fault(request: web.Request) -> web.Response:
    """``{"api", "errcode"?, "http_status"?, "latency"?, "count"?, "rate"?}``."""
    body = await _json_body(request)
    state = request.app[STATE_KEY]
    try:
        fault = state.faults.inject(
            str(body.get("api", "*")),
            errcode=_opt_int(body, "errcode"),
            http_status=_opt_int(body, "http_status"),
            latency=float(body.get("latency", 0.0)),
            count=_opt_int(body, "count"),
            rate=float(body["rate"]) if body.get("rate") is not None else None,
        )
    except (TypeError, ValueError) as err:
        raise _bad_request(str(err)) from err
    return _ok({"fault": fault.as_dict()})


async def delete_faults(request: web.Request) -> web.Response:
    """Clear every fault and every rate limit."""
    state = request.app[STATE_KEY]
    state.faults.clear()
    state.rate_limits.clear()
    return _ok({"cleared": True})


async def post_rate_limit(request: web.Request) -> web.Response:
    """``{"api": "externalcontact/mark_tag" | "*", "per_minute": N | null}``."""
    body = await _json_body(request)
    state = request.app[STATE_KEY]
    try:
        state.rate_limits.set_limit(str(body["api"]), _opt_int(body, "per_minute"))
    except (KeyError, TypeError, ValueError) as err:
        raise _bad_request(f"bad rate limit: {err}") from err
    return _ok({"rate_limits": state.rate_limits.limits})


async def post_advance(request: web.Request) -> web.Response:
    body = await _json_body(request)
    state = request.app[STATE_KEY]
    try:
        state.advance(float(body["seconds"]))
    except (KeyError, TypeError, ValueError) as err:
        raise _bad_request(f"bad seconds: {err}") from err
    return _ok({"now": state.now(), "clock_offset": state.clock.offset})


async def post_expire_tokens(request: web.Request) -> web.Response:
    request.app[STATE_KEY].expire_all_tokens()
    return _ok({"expired": True})


def _seed(state: SimulatorState, body: Mapping[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = {"members": [], "contacts": [], "tag_groups": []}
    for group in body.get("tag_groups", []):
        made = state.add_tag_group(group["group_name"], list(group.get("tags", [])), order=int(group.get("order", 0)))
        created["tag_groups"].append(
            {"group_id": made.group_id, "tags": {tag.name: tag.id for tag in made.tags.values()}}
        )
    for member in body.get("members", []):
        state.add_member(
            member["userid"], member.get("name"), store=member.get("store", ""), status=int(member.get("status", 1))
        )
        created["members"].append(member["userid"])
    for contact in body.get("contacts", []):
        made_contact = state.add_external_contact(contact.get("external_userid"), contact.get("name"))
        for follow in contact.get("follow", []):
            state.relate(
                follow["userid"],
                made_contact.external_userid,
                state=follow.get("state", ""),
                tag_ids=follow.get("tag_ids", []),
                remark=follow.get("remark", ""),
            )
        created["contacts"].append(made_contact.external_userid)
    generate = body.get("generate")
    if generate:
        members, contacts = state.generate_contacts(
            int(generate["n_members"]),
            int(generate["n_contacts"]),
            int(generate.get("seed", 0)),
            tagged_fraction=float(generate.get("tagged_fraction", 0.0)),
        )
        created["generated"] = {"members": len(members), "contacts": len(contacts)}
    return created


async def post_seed(request: web.Request) -> web.Response:
    """``{"tag_groups": [{group_name, tags}], "members": [{userid, name?, store?}],
    "contacts": [{external_userid?, name?, follow: [{userid, state?, tag_ids?, remark?}]}],
    "generate": {n_members, n_contacts, seed?, tagged_fraction?}}``."""
    body = await _json_body(request)
    try:
        created = _seed(request.app[STATE_KEY], body)
    except (KeyError, TypeError, ValueError) as err:
        raise _bad_request(f"bad seed: {err!r}") from err
    return _ok(created)


async def post_callback(request: web.Request) -> web.Response:
    """``{"url": ..., "timeout"?: s, "max_resends"?: n}``: where events are delivered."""
    body = await _json_body(request)
    target = request.app[CALLBACK_KEY]
    target.url = body.get("url") or None
    target.timeout = float(body.get("timeout", target.timeout))
    target.max_resends = int(body.get("max_resends", target.max_resends))
    return _ok({"url": target.url, "timeout": target.timeout, "max_resends": target.max_resends})


def _sender(app: web.Application) -> CallbackSender:
    state = app[STATE_KEY]
    target = app[CALLBACK_KEY]
    if not target.url:
        raise web.HTTPConflict(
            text=json.dumps({"error": "no callback url: start with callback_url or POST /_sim/callback"}),
            content_type="application/json",
        )
    crypto = CallbackCrypto(state.callback_token, state.encoding_aes_key, state.corp_id)
    return CallbackSender(
        crypto,
        target.url,
        app[SESSION_KEY],
        timeout=target.timeout,
        max_resends=target.max_resends,
    )


async def post_event(request: web.Request) -> web.Response:
    """Make the change named ``kind`` and deliver its callbacks (unless ``?deliver=0``)."""
    kind = request.match_info["kind"]
    make_events = EVENT_KINDS.get(kind)
    if make_events is None:
        raise _bad_request(f"unknown event kind {kind!r}; known: {sorted(EVENT_KINDS)}")
    deliver = request.query.get("deliver", "1") not in ("0", "false")
    sender = _sender(request.app) if deliver else None  # refuse before changing the state
    body = await _json_body(request)
    try:
        events = make_events(request.app[STATE_KEY], body)
    except (KeyError, TypeError, ValueError) as err:
        raise _bad_request(f"bad {kind} event: {err!r}") from err
    deliveries = [(await sender.send(event)).as_dict() for event in events] if sender else []
    return _ok({"events": events, "deliveries": deliveries})


async def post_verify_url(request: web.Request) -> web.Response:
    """``{"echostr": "..."}``: do WeCom's URL verification GET against the callback URL."""
    body = await _json_body(request)
    result = await _sender(request.app).verify_url(str(body.get("echostr", "1288432023552776189")))
    return _ok({"status": result.status, "body": result.body, "ok": result.ok})


async def get_qr_png(request: web.Request) -> web.Response:
    """The picture behind a contact way's or join way's ``qr_code`` (404 once the code is deleted)."""
    config_id = request.match_info["config_id"]
    state = request.app[STATE_KEY]
    if config_id not in state.contact_ways and config_id not in state.join_ways:
        raise web.HTTPNotFound()
    return web.Response(body=qr_png(config_id), content_type="image/png")


def _opt_int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    return None if value is None else int(value)


def setup_control_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/state", get_state)
    app.router.add_get("/_sim/calls", get_calls)
    app.router.add_delete("/_sim/calls", delete_calls)
    app.router.add_post("/_sim/faults", post_fault)
    app.router.add_delete("/_sim/faults", delete_faults)
    app.router.add_post("/_sim/rate_limits", post_rate_limit)
    app.router.add_post("/_sim/advance", post_advance)
    app.router.add_post("/_sim/expire_tokens", post_expire_tokens)
    app.router.add_post("/_sim/seed", post_seed)
    app.router.add_post("/_sim/callback", post_callback)
    app.router.add_post("/_sim/events/{kind}", post_event)
    app.router.add_post("/_sim/verify_url", post_verify_url)
    app.router.add_get("/_sim/qr/{config_id}.png", get_qr_png)
