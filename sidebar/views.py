"""The sidebar's routes: parse, call one service function, answer.

Pages: ``/sidebar/`` (the page; no session → OAuth), ``/sidebar/login``, ``/sidebar/oauth`` (the
OAuth callback). JSON: ``/sidebar/api/*``; the session cookie is required, writes also need the
``X-CSRF-Token`` header. Answers: 401 no or expired session, 403 not this guide's customer, 400 a
bad request, 503 WeCom unavailable; every error is a short Chinese message, never a trace.
"""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from bot.appkeys import DEPS
from bot.feature import load_features
from bot.wecom.errors import WeComError
from config.settings import Settings
from sidebar import service
from sidebar.access import Forbidden
from sidebar.actions import BadAction
from sidebar.config import LIBRARY, Library
from sidebar.jssdk import TicketBudgetSpent, Tickets
from sidebar.oauth import STATE_COOKIE, STATE_TTL_S, BadState, InvalidCode, LoginError, begin_login, finish_login
from sidebar.service import Sidebar
from sidebar.session import COOKIE, GuideSession, SessionError, SessionSigner, derive_key

__all__ = ["SIDEBAR", "setup_sidebar"]

log = structlog.get_logger(__name__)

SIDEBAR = web.AppKey("sidebar", Sidebar)
_STATIC = Path(__file__).resolve().parent / "static"
_STATIC_TYPES = {".js": "application/javascript", ".css": "text/css"}
_JSON_LIMIT = 8 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _texts(request: web.Request) -> Library:
    return request.app[DEPS].config[LIBRARY]


def _page(request: web.Request, key: str, status: int) -> web.Response:
    """A clear Chinese page for a login problem (the texts are in config/sidebar.yaml)."""
    texts = _texts(request)
    message, title, reopen = (html.escape(texts.text(k)) for k in (key, "page_title", "page_reopen"))
    body = (
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>'
        '<body style="font:16px/1.6 sans-serif;padding:24px;color:#333">'
        f'<p>{message}</p><p><a href="/sidebar/login">{reopen}</a></p></body></html>'
    )
    return web.Response(status=status, text=body, content_type="text/html", headers={"Cache-Control": "no-store"})


def _error(request: web.Request, key: str, status: int, code: str = "", **values: Any) -> web.Response:
    return web.json_response({"error": _texts(request).text(key, **values), "code": code or key}, status=status,
                             dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


def _public_base(request: web.Request) -> str:
    configured = request.app[SIDEBAR].deps.settings.scrm_sidebar_public_url.rstrip("/")
    return configured or f"{request.scheme}://{request.host}"


def _session(request: web.Request) -> GuideSession:
    sb = request.app[SIDEBAR]
    return sb.signer.read(request.cookies.get(COOKIE), sb.deps.settings.wecom_corp_id, sb.deps.clock.timestamp())


def _api(*, write: bool = False) -> Callable[[Callable[[web.Request, GuideSession], Awaitable[Any]]], Handler]:
    """A JSON route: session (and CSRF for writes) checked, errors mapped to status + Chinese text."""

    def wrap(view: Callable[[web.Request, GuideSession], Awaitable[Any]]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                session = _session(request)
                if write and not request.app[SIDEBAR].signer.check_csrf(session, request.headers.get("X-CSRF-Token")):
                    log.warning("sidebar_csrf_refused", path=request.path, userid=session.userid)
                    return _error(request, "forbidden", 403)
                answer = await view(request, session)
            except SessionError:  # none, forged or expired (SessionExpired): log in again
                return _error(request, "session_expired", 401)
            except Forbidden as err:
                log.warning("sidebar_forbidden", path=request.path, reason=str(err))
                if write:  # a refused write is audited too (a refused read is only logged)
                    await service.audit_refused(request.app[SIDEBAR], session.userid, request.path.rsplit("/", 1)[-1])
                return _error(request, "forbidden", 403)
            except BadAction as err:  # the guide reads the text; the log keeps the reason
                log.info("sidebar_bad_request", path=request.path, reason=str(err))
                return _error(request, err.key, 400, "bad_request", **err.values)
            except (WeComError, TicketBudgetSpent) as err:
                log.error("sidebar_wecom_failed", path=request.path, error=str(err))
                return _error(request, "server_error", 503)
            except web.HTTPException:
                raise
            except Exception:  # the page gets a message; the log gets the trace
                log.exception("sidebar_failed", path=request.path)
                return _error(request, "server_error", 500)
            return web.json_response(answer, dumps=lambda obj: json.dumps(obj, ensure_ascii=False, default=str),
                                     headers={"Cache-Control": "no-store"})

        return handler

    return wrap


async def _json(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > _JSON_LIMIT:
        raise BadAction("body too large")
    try:
        body = json.loads(await request.read())
    except ValueError as err:
        raise BadAction("body is not JSON") from err
    if not isinstance(body, dict):
        raise BadAction("body must be an object")
    return body


# --- pages ---------------------------------------------------------------------------------------


def _cookie(response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int) -> None:
    secure = _public_base(request).startswith("https://")
    response.set_cookie(name, value, max_age=max_age, path="/sidebar", httponly=True, secure=secure, samesite="Lax")


async def login(request: web.Request) -> web.StreamResponse:
    deps = request.app[SIDEBAR].deps
    start = await begin_login(deps, f"{_public_base(request)}/sidebar/oauth", request.query.get("next"))
    response = web.HTTPFound(start.authorize_url)
    _cookie(response, request, STATE_COOKIE, start.state, STATE_TTL_S)
    raise response


async def oauth_callback(request: web.Request) -> web.StreamResponse:
    sb = request.app[SIDEBAR]
    try:
        userid, target = await finish_login(
            sb.deps, request.query.get("code", ""), request.query.get("state", ""), request.cookies.get(STATE_COOKIE)
        )
    except BadState:
        return _page(request, "login_bad_state", 400)
    except InvalidCode:
        log.info("sidebar_oauth_bad_code")
        return _page(request, "login_bad_code", 400)
    except LoginError:
        return _page(request, "login_not_member", 403)
    except WeComError as err:
        log.error("sidebar_oauth_failed", error=str(err))
        return _page(request, "server_error", 503)
    response = web.HTTPFound(target)
    _cookie(response, request, COOKIE, sb.signer.issue(sb.deps.settings.wecom_corp_id, userid,
                                                       sb.deps.clock.timestamp()), sb.signer.ttl_s)
    response.del_cookie(STATE_COOKIE, path="/sidebar")
    log.info("sidebar_login", userid=userid)
    raise response


def _origins(urls: list[str]) -> str:
    return " ".join(sorted({f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in urls}))


async def index(request: web.Request) -> web.StreamResponse:
    sb = request.app[SIDEBAR]
    try:
        session = _session(request)
    except SessionError:
        raise web.HTTPFound("/sidebar/login?next=/sidebar/") from None
    settings = sb.deps.settings
    sdk = [u.strip() for u in settings.scrm_sidebar_jssdk_urls.split(",") if u.strip()]
    page = await asyncio.to_thread((_STATIC / "index.html").read_text, "utf-8")
    library = sb.deps.config[LIBRARY]
    labels = json.dumps(library.labels, ensure_ascii=False, separators=(",", ":"))
    for mark, value in (
        ("{{csrf}}", sb.signer.csrf_token(session)),
        ("{{labels}}", html.escape(labels)),  # the page's own words (config/sidebar.yaml), read by app.js
        ("{{title}}", html.escape(library.text("page_title"))),
        ("{{connecting}}", html.escape(library.labels["connecting"])),
        ("{{sdk}}", "".join(f'<script src="{html.escape(u)}"></script>' for u in sdk)),
    ):
        page = page.replace(mark, value)
    origins = _origins(sdk)
    csp = (
        f"default-src 'self'; script-src 'self' {origins}; connect-src 'self' {origins}; "
        "img-src 'self' data: https: http:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return web.Response(text=page, content_type="text/html", headers={
        "Content-Security-Policy": csp, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
    })


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in ("app.js", "app.css"):
        raise web.HTTPNotFound()
    text = await asyncio.to_thread((_STATIC / name).read_text, "utf-8")
    return web.Response(text=text, content_type=_STATIC_TYPES[Path(name).suffix],
                        headers={"Cache-Control": "max-age=300"})


# --- JSON ----------------------------------------------------------------------------------------


@_api()
async def jssdk(request: web.Request, session: GuideSession) -> Any:
    url = request.query.get("url", "").split("#", 1)[0]
    if not url.startswith(_public_base(request) + "/sidebar/"):
        raise BadAction("only our own sidebar pages are signed")
    signed = await service.sign(request.app[SIDEBAR], url, request.query.get("renew", ""),
                                request.query.get("fp", ""))
    return {"config": signed.corp, "agentConfig": signed.agent}


@_api()
async def card(request: web.Request, session: GuideSession) -> Any:
    return await service.open_card(request.app[SIDEBAR], session.userid, request.query.get("external_userid", ""))


@_api()
async def group(request: web.Request, session: GuideSession) -> Any:
    return await service.group_card(request.app[SIDEBAR], session.userid, request.query.get("chat_id", ""))


@_api()
async def library(request: web.Request, session: GuideSession) -> Any:
    return await service.library_items(request.app[SIDEBAR], session.userid, request.query.get("q", "")[:50],
                                       request.query.get("external_userid", ""))


@_api(write=True)
async def action(request: web.Request, session: GuideSession) -> Any:
    body = await _json(request)
    result = await service.run_action(request.app[SIDEBAR], session.userid, str(body.get("external_userid", "")),
                                      str(body.get("action", "")), body)
    return {"result": result}


@_api(write=True)
async def send(request: web.Request, session: GuideSession) -> Any:
    body = await _json(request)
    prepared = await service.send_item(
        request.app[SIDEBAR], session.userid, str(body.get("item", "")),
        external_userid=str(body.get("external_userid", "")), chat_id=str(body.get("chat_id", "")),
    )
    return {"send_id": prepared.send_id, "message": prepared.message}


@_api(write=True)
async def sent(request: web.Request, session: GuideSession) -> Any:
    body = await _json(request)
    send_id = body.get("send_id")
    if not isinstance(send_id, int) or isinstance(send_id, bool):
        raise BadAction("send_id must be a number")
    return {"result": await service.confirm_sent(request.app[SIDEBAR], session.userid, send_id,
                                                 str(body.get("status", "")))}


def setup_sidebar(app: web.Application, settings: Settings) -> None:
    """Add the sidebar's routes (the library loads with every config file: bot/appconfig.py)."""
    load_features()  # a duplicate section id stops the start

    async def context(app: web.Application) -> AsyncIterator[None]:
        deps = app[DEPS]
        key = derive_key(settings.scrm_sidebar_secret.get_secret_value(), settings.wecom_secret.get_secret_value())
        app[SIDEBAR] = Sidebar(
            deps,
            SessionSigner(key, settings.scrm_sidebar_session_s),
            Tickets(deps),
        )
        yield

    app.cleanup_ctx.append(context)
    app.router.add_get("/sidebar/", index)
    app.router.add_get("/sidebar", _redirect_index)
    app.router.add_get("/sidebar/login", login)
    app.router.add_get("/sidebar/oauth", oauth_callback)
    app.router.add_get("/sidebar/static/{name}", static)
    app.router.add_get("/sidebar/api/jssdk", jssdk)
    app.router.add_get("/sidebar/api/card", card)
    app.router.add_get("/sidebar/api/group", group)
    app.router.add_get("/sidebar/api/library", library)
    app.router.add_post("/sidebar/api/action", action)
    app.router.add_post("/sidebar/api/send", send)
    app.router.add_post("/sidebar/api/sent", sent)


async def _redirect_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/sidebar/")
