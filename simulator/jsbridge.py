"""The browser side of the fake WeCom, as HTTP routes on the simulator app.

- ``GET /connect/oauth2/authorize``: WeCom's OAuth2 page (open.weixin.qq.com in production). It
  checks appid, scope and the redirect host (trusted domains), and sends the phone's member back
  with a single-use code and the echoed ``state``.
- ``GET /_sim/jsbridge.js``: a stand-in for WeCom's JS-SDK (``wx.config``, ``wx.agentConfig``,
  ``wx.invoke``) that pages load in place of the real one. It asks ``/_sim/bridge/*`` to do the
  client's part: the signature is recomputed from the ticket the simulator issued, with the kind
  that call needs; ``getContext``, ``getCurExternalContact``, ``getCurExternalChat`` and
  ``sendChatMessage`` are played against ``state.browser.device``; what the guide sends is recorded.
- ``/_sim/browser/*``: control for tests and the demo (set the device, read what was sent,
  expire tickets). Bad requests get HTTP 400 with ``{"error": ...}``.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from simulator.apis.sidebar_media import upload_media
from simulator.browser import CODE_TTL, BridgeSession, OAuthCode, SentChatMessage, jsapi_signature
from simulator.keys import STATE_KEY
from simulator.state import SimulatorState

__all__ = ["play_config", "play_invoke", "setup_browser_routes"]

_STATIC = Path(__file__).resolve().parent / "static"
_ONE_TO_ONE = ("single_chat_tools", "contact_profile", "single_kf_tools")
_CHAT_TOOLS = ("single_chat_tools", "group_chat_tools", "single_kf_tools", "chat_attachment")
_MSGTYPES = ("text", "image", "video", "file", "news", "miniprogram")
_CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "Content-Type"}


def _json(payload: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(
        dict(payload), status=status, headers=headers, dumps=lambda obj: json.dumps(obj, ensure_ascii=False)
    )


def _error_page(message: str, status: int = 400) -> web.Response:
    body = f"<!doctype html><meta charset=utf-8><title>企业微信</title><p>{html.escape(message)}</p>"
    return web.Response(status=status, text=body, content_type="text/html")


# --- OAuth -------------------------------------------------------------------------------------


async def authorize(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    query = request.query
    if query.get("appid") != state.corp_id:
        return _error_page("参数错误：appid 不是本企业的 CorpID（40013）")
    if query.get("scope") not in ("snsapi_base", "snsapi_privateinfo"):
        return _error_page("参数错误：scope 无效")
    if query.get("response_type") != "code":
        return _error_page("参数错误：response_type 必须为 code")
    redirect = urlsplit(query.get("redirect_uri", ""))
    if redirect.scheme not in ("http", "https") or not redirect.hostname:
        return _error_page("参数错误：redirect_uri 无效")
    if not state.browser.trusts(redirect.hostname, redirect.port):
        return _error_page("redirect_uri 与配置的授权完成回跳域名不一致（50001）")
    userid = state.browser.device.userid
    if not userid:
        return _error_page("请在企业微信中打开（模拟器未设置当前成员）", status=403)
    agent = query.get("agentid", str(state.agent_id))
    code = state.ids.make("sim_code_", 64)
    state.browser.codes[code] = OAuthCode(code, userid, int(agent) if agent.isdigit() else 0, state.now() + CODE_TTL)
    separator = "&" if redirect.query else "?"
    target = redirect.geturl() + separator + urlencode({"code": code, "state": query.get("state", "")})
    raise web.HTTPFound(target)


# --- the JS bridge -----------------------------------------------------------------------------


def play_config(state: SimulatorState, body: Mapping[str, Any]) -> dict[str, Any]:
    """``wx.config`` (kind ``config``, the corp ticket) or ``wx.agentConfig`` (the app ticket)."""
    browser = state.browser
    kind = "agentConfig" if body.get("kind") == "agentConfig" else "config"
    bridge_id = str(body.get("bridge_id") or "")
    session = browser.bridges.get(bridge_id)
    if session is None:
        session = BridgeSession(state.ids.make("br", 16), str(body.get("url", "")))
        browser.bridges[session.bridge_id] = session

    def fail(reason: str) -> dict[str, Any]:
        return {"ok": False, "bridge_id": session.bridge_id, "errMsg": f"{kind}:{reason}"}

    url = str(body.get("url", "")).split("#", 1)[0]
    parts = urlsplit(url)
    if not parts.hostname or not browser.trusts(parts.hostname, parts.port):
        return fail("not match any reliable domain")
    if str(body.get("corpid", "")) != state.corp_id:
        return fail("invalid corpId")
    if kind == "agentConfig" and str(body.get("agentid", "")) != str(state.agent_id):
        return fail("invalid agentid")
    ticket_kind = "agent_config" if kind == "agentConfig" else "corp"
    signature = str(body.get("signature", ""))
    now = state.now()
    signed = any(
        browser.live_ticket(ticket, ticket_kind, now)
        and jsapi_signature(ticket, str(body.get("nonceStr", "")), str(body.get("timestamp", "")), url) == signature
        for ticket in browser.tickets
    )
    if not signed:
        return fail("invalid signature")
    if kind == "agentConfig":
        session.agent_config_ok = True
    else:
        session.config_ok = True
    return {"ok": True, "bridge_id": session.bridge_id, "errMsg": f"{kind}:ok"}


def _check_message(state: SimulatorState, params: Mapping[str, Any]) -> str | None:
    """Why WeCom's client would refuse this message (None: it is fine)."""
    msgtype = params.get("msgtype")
    if msgtype not in _MSGTYPES:
        return "invalid msgtype"
    content = params.get(str(msgtype))
    if not isinstance(content, dict):
        return f"missing {msgtype}"
    if msgtype == "text":
        return None if str(content.get("content", "")).strip() else "empty content"
    if msgtype in ("image", "video", "file"):
        media = state.browser.media.get(str(content.get("mediaid", "")))
        if media is None or state.now() >= media.expires_at:
            return "invalid mediaid"
        return None
    img_url = str(content.get("imgUrl", ""))
    if img_url and not img_url.startswith(("http://", "https://")):
        return "invalid imgUrl"
    if msgtype == "news":
        return None if str(content.get("link", "")).startswith(("http://", "https://")) else "invalid link"
    if not content.get("appid") or not str(content.get("page", "")).split("?", 1)[0].endswith(".html"):
        return "invalid miniprogram"
    return None if img_url else "invalid imgUrl"


def _send(state: SimulatorState, params: Mapping[str, Any]) -> str:
    """``sendChatMessage``: the status it answers with; a message that went is recorded."""
    device = state.browser.device
    if device.entry not in _CHAT_TOOLS:
        return "fail without context of external contact"
    problem = _check_message(state, params)
    if problem is not None:
        return f"fail {problem}"
    if device.cancel_next_send:
        device.cancel_next_send = False
        return "cancel"
    msgtype = str(params["msgtype"])
    state.browser.sent.append(
        SentChatMessage(
            device.userid, device.entry, device.external_userid, device.chat_id, msgtype,
            dict(params[msgtype]), state.now(),
        )
    )
    return "ok"


def play_invoke(state: SimulatorState, body: Mapping[str, Any]) -> dict[str, Any]:
    """``wx.invoke(api, params)`` as the WeCom client answers it, in the device's current chat."""
    api = str(body.get("api", ""))
    raw_params = body.get("params")
    params: Mapping[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    session = state.browser.bridges.get(str(body.get("bridge_id") or ""))
    device = state.browser.device

    def answer(status: str, **fields: Any) -> dict[str, Any]:
        return {"err_msg": f"{api}:{status}", **fields}

    if session is None or not (session.config_ok or session.agent_config_ok):
        return answer("fail no permission")
    if api == "getContext":
        return answer("ok", entry=device.entry, shareTicket="")
    if not session.agent_config_ok:
        return answer("fail no permission")  # the customer APIs need the app's agentConfig
    if api == "getCurExternalContact":
        if device.entry not in _ONE_TO_ONE or not device.external_userid:
            return answer("fail without context of external contact")
        return answer("ok", userId=device.external_userid)
    if api == "getCurExternalChat":
        if device.entry != "group_chat_tools" or not device.chat_id:
            return answer("fail without context of external contact")
        return answer("ok", chatId=device.chat_id)
    if api == "sendChatMessage":
        return answer(_send(state, params))
    return answer("fail not supported")


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError as err:
        raise web.HTTPBadRequest(text='{"error": "body is not JSON"}', content_type="application/json") from err
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "body must be an object"}', content_type="application/json")
    return body


def _bridge_route(
    play: Callable[[SimulatorState, Mapping[str, Any]], dict[str, Any]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    # The page is on the app's origin and the bridge talks to the simulator's: CORS, and a
    # text/plain body keeps it a "simple" request (no preflight), as a real client needs none.
    async def route(request: web.Request) -> web.Response:
        return _json(play(request.app[STATE_KEY], await _body(request)), headers=_CORS)

    return route


async def bridge_script(request: web.Request) -> web.Response:
    text = await _read_static("jsbridge.js")
    return web.Response(text=text, content_type="application/javascript", headers=_CORS)


async def _read_static(name: str) -> str:
    return await asyncio.to_thread((_STATIC / name).read_text, "utf-8")


# --- control -----------------------------------------------------------------------------------


async def set_device(request: web.Request) -> web.Response:
    """``{"userid", "entry"?, "external_userid"?, "chat_id"?, "cancel_next_send"?}``: the open chat."""
    body = await _body(request)
    device = request.app[STATE_KEY].browser.device
    for name in ("userid", "entry", "external_userid", "chat_id"):
        if name in body:
            setattr(device, name, str(body[name] or ""))
    if "cancel_next_send" in body:
        device.cancel_next_send = bool(body["cancel_next_send"])
    return _json({"device": vars(device)})


async def get_sent(request: web.Request) -> web.Response:
    sent = request.app[STATE_KEY].browser.sent
    return _json({"count": len(sent), "sent": [vars(message) for message in sent]})


async def expire_tickets(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.browser.expire_tickets(state.now())
    return _json({"expired": True})


async def trust_domain(request: web.Request) -> web.Response:
    """``{"domain": "host:port"}``: add a trusted domain (网页授权及JS-SDK 可信域名)."""
    body = await _body(request)
    browser = request.app[STATE_KEY].browser
    browser.trusted_domains.add(str(body.get("domain", "")))
    return _json({"trusted_domains": sorted(browser.trusted_domains)})


def setup_browser_routes(app: web.Application) -> None:
    """Register before the ``/cgi-bin/{api}`` catch-all: ``media/upload`` is multipart, not JSON."""
    app.router.add_post("/cgi-bin/media/upload", upload_media)
    app.router.add_get("/connect/oauth2/authorize", authorize)
    app.router.add_get("/_sim/jsbridge.js", bridge_script)
    app.router.add_post("/_sim/bridge/config", _bridge_route(play_config))
    app.router.add_post("/_sim/bridge/invoke", _bridge_route(play_invoke))
    app.router.add_post("/_sim/browser/device", set_device)
    app.router.add_get("/_sim/browser/sent", get_sent)
    app.router.add_post("/_sim/browser/expire-tickets", expire_tickets)
    app.router.add_post("/_sim/browser/trust", trust_domain)
