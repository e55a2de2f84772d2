"""The sidebar's routes: parse, call one service function, answer.

Pages: ``/sidebar/`` (the page; no session → OAuth), ``/sidebar/login``, ``/sidebar/oauth`` (the
OAuth callback). JSON: ``/sidebar/api/*``; the session cookie is required, writes also need the
``X-CSRF-Token`` header. Answers: 401 no or expired session, 403 not this guide's customer, 400 a
bad request, 429 too many (logins per address, writes per guide, the sidebar's share of a WeCom
API budget), 503 WeCom or Redis unavailable; every error is a short Chinese message, never a trace.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from bot.appkeys import DEPS
from bot.feature import load_features
from bot.httpbody import BodyTooLarge, read_body
from bot.ratelimit import count_in_window
from bot.wecom.budget import BudgetSpent, interactive
from bot.wecom.errors import WeComError
from config.settings import Settings
from sidebar import service
from sidebar.access import Forbidden
from sidebar.actions import BadAction
from sidebar.config import LIBRARY, Library
from sidebar.jssdk import TicketBudgetSpent, Tickets
from sidebar.oauth import STATE_COOKIE, STATE_TTL_S, BadState, InvalidCode, LoginError, begin_login, finish_login
from sidebar.service import Sidebar
from sidebar.session import COOKIE, GuideSession, SessionError, SessionSigner, derive_keys

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


def _error(request: web.Request, key: str, status: int, code: str = "", *, headers: dict[str, str] | None = None,
           **values: Any) -> web.Response:
    return web.json_response({"error": _texts(request).text(key, **values), "code": code or key}, status=status,
                             dumps=lambda obj: json.dumps(obj, ensure_ascii=False), headers=headers)


def _public_base(request: web.Request) -> str:
    """SCRM_SIDEBAR_PUBLIC_URL; the request's own host only in local use (SCRM_SIDEBAR_LOCAL)."""
    configured = request.app[SIDEBAR].deps.settings.scrm_sidebar_public_url.rstrip("/")
    return configured or f"{request.scheme}://{request.host}"


def client_address(request: web.Request) -> str:
    """Who is asking: the peer, or behind one of our proxies (SCRM_TRUSTED_PROXIES) the hop it
    added, the last of X-Forwarded-For; what a visitor writes there itself comes before it."""
    peer = request.remote or ""
    proxies = request.app[SIDEBAR].deps.settings.trusted_proxies
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    while proxies and hops and _is_in(peer, proxies):
        peer = hops.pop()
    return peer[:64]


def _is_in(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


async def _over_limit(request: web.Request, limit: str, who: str, per_minute: int) -> bool:
    """One more request of ``who`` against ``limit`` this minute; True (and counted) past it."""
    deps = request.app[SIDEBAR].deps
    key = f"{{{deps.settings.scrm_redis_prefix}}}:sidebar:rate:{limit}:{who}"
    count = await count_in_window(deps.redis, key, 60, deps.clock.timestamp())
    if count <= per_minute:
        return False
    if count == per_minute + 1:  # logged once a minute and address or guide; the metric counts them all
        log.warning("sidebar_rate_limited", limit=limit, who=who, per_minute=per_minute)
    deps.metrics.sidebar_refused.labels(limit=limit).inc()
    return True


async def _login_over_limit(request: web.Request) -> bool:
    per_minute = request.app[SIDEBAR].deps.settings.scrm_sidebar_login_per_minute
    return await _over_limit(request, "login", client_address(request), per_minute)


def _session(request: web.Request) -> GuideSession:
    sb = request.app[SIDEBAR]
    return sb.signer.read(request.cookies.get(COOKIE), sb.deps.settings.wecom_corp_id, sb.deps.clock.timestamp())


def _api(*, write: bool = False) -> Callable[[Callable[[web.Request, GuideSession], Awaitable[Any]]], Handler]:
    """A JSON route: session (and CSRF and the guide's rate for writes) checked, errors mapped to
    status + Chinese text."""

    def wrap(view: Callable[[web.Request, GuideSession], Awaitable[Any]]) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            userid = ""
            try:
                session = _session(request)
                userid = session.userid
                refused = await _refuse_write(request, session) if write else None
                if refused is not None:
                    return refused
                with interactive():  # a person is waiting: the sidebar's share of each WeCom budget
                    answer = await view(request, session)
            except web.HTTPException:
                raise
            except Exception as err:  # noqa: BLE001 - mapped to an answer; unexpected ones logged with the trace
                return await _failure(request, err, userid if write else "")
            return web.json_response(answer, dumps=lambda obj: json.dumps(obj, ensure_ascii=False, default=str),
                                     headers={"Cache-Control": "no-store"})

        return handler

    return wrap


async def _refuse_write(request: web.Request, session: GuideSession) -> web.Response | None:
    """403 without the page's CSRF token, 429 past the guide's writes a minute; None: go ahead."""
    sb = request.app[SIDEBAR]
    if not sb.signer.check_csrf(session, request.headers.get("X-CSRF-Token")):
        log.warning("sidebar_csrf_refused", path=request.path, userid=session.userid)
        return _error(request, "forbidden", 403)
    if await _over_limit(request, "writes", session.userid, sb.deps.settings.scrm_sidebar_writes_per_minute):
        return _error(request, "rate_limited", 429, headers={"Retry-After": "60"})
    return None


async def _failure(request: web.Request, err: Exception, writer: str) -> web.Response:
    """The answer for what a view raised (``writer``: the guide of a write, audited when refused)."""
    if isinstance(err, SessionError):  # none, forged or expired (SessionExpired): log in again
        return _error(request, "session_expired", 401)
    if isinstance(err, Forbidden):
        log.warning("sidebar_forbidden", path=request.path, reason=str(err))
        if writer:  # a refused write is audited too (a refused read is only logged)
            await service.audit_refused(request.app[SIDEBAR], writer, request.path.rsplit("/", 1)[-1])
        return _error(request, "forbidden", 403)
    if isinstance(err, BadAction):  # the guide reads the text; the log keeps the reason
        log.info("sidebar_bad_request", path=request.path, reason=str(err))
        return _error(request, err.key, 400, "bad_request", **err.values)
    if isinstance(err, BodyTooLarge):
        return _error(request, "bad_request", 413)
    if isinstance(err, BudgetSpent):  # the sidebar's share of this API's budget (the budget logged it)
        request.app[SIDEBAR].deps.metrics.sidebar_refused.labels(limit="wecom_budget").inc()
        return _error(request, "rate_limited", 429, headers={"Retry-After": str(int(err.retry_after_s) + 1)})
    if isinstance(err, WeComError | TicketBudgetSpent):
        log.error("sidebar_wecom_failed", path=request.path, error=str(err))
        return _error(request, "server_error", 503)
    if isinstance(err, RedisError):  # Redis full or gone: no trace, the page says try later
        log.error("sidebar_redis_failed", path=request.path, error=type(err).__name__)
        return _error(request, "server_error", 503)
    log.error("sidebar_failed", path=request.path, exc_info=err)  # the page gets a message; the log the trace
    return _error(request, "server_error", 500)


async def _json(request: web.Request) -> dict[str, Any]:
    """The write's body: capped and within SCRM_BODY_TIMEOUT_S (the callback's reader), an object."""
    raw = await read_body(request, _JSON_LIMIT)
    try:
        body = json.loads(raw)
    except ValueError as err:
        raise BadAction("body is not JSON") from err
    if not isinstance(body, dict):
        raise BadAction("body must be an object")
    return body


# --- pages ---------------------------------------------------------------------------------------


def _cookie(response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int) -> None:
    secure = _public_base(request).startswith("https://")
    response.set_cookie(name, value, max_age=max_age, path="/sidebar", httponly=True, secure=secure, samesite="Lax")


def _anonymous(view: Handler) -> Handler:
    """A page for visitors not yet logged in: rate-limited per address; Redis down is a 503 page."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            if await _login_over_limit(request):
                return _page(request, "rate_limited", 429)
            return await view(request)
        except RedisError as err:
            log.error("sidebar_redis_failed", path=request.path, error=type(err).__name__)
            return _page(request, "server_error", 503)

    return handler


@_anonymous
async def login(request: web.Request) -> web.StreamResponse:
    sb = request.app[SIDEBAR]
    start = begin_login(sb.deps, sb.signer, f"{_public_base(request)}/sidebar/oauth", request.query.get("next"))
    response = web.HTTPFound(start.authorize_url)
    _cookie(response, request, STATE_COOKIE, start.state_cookie, STATE_TTL_S)
    raise response


@_anonymous
async def oauth_callback(request: web.Request) -> web.StreamResponse:
    sb = request.app[SIDEBAR]
    try:
        userid, target = await finish_login(
            sb.deps, sb.signer, request.query.get("code", ""), request.query.get("state", ""),
            request.cookies.get(STATE_COOKIE),
        )
    except BadState:
        return _page(request, "login_bad_state", 400)
    except InvalidCode:
        log.info("sidebar_oauth_bad_code")
        return _page(request, "login_bad_code", 400)
    except LoginError:
        return _page(request, "login_not_member", 403)
    except BudgetSpent:
        return _page(request, "rate_limited", 429)
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
    signed = await service.sign(request.app[SIDEBAR], session.userid, url, request.query.get("renew", ""),
                                request.query.get("fp", ""))
    return {"config": signed.corp, "agentConfig": signed.agent}


@_api()
async def card(request: web.Request, session: GuideSession) -> Any:
    return await service.open_card(request.app[SIDEBAR], session.userid, request.query.get("external_userid", ""))


@_api()
async def member_phone(request: web.Request, session: GuideSession) -> Any:
    """The full phone of one of the viewer's own members to add (acquisition/), on their tap."""
    from acquisition.service import task_phone

    task = request.query.get("task_id", "")
    phone = await task_phone(session.userid, int(task)) if task.isdigit() and len(task) < 18 else None
    if phone is None:
        raise Forbidden(f"task {task[:20]} is not an open task of {session.userid}")
    return {"text": phone.removeprefix("+86")}


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
    if not isinstance(send_id, int) or isinstance(send_id, bool) or not 0 < send_id <= service.ID_MAX:
        raise BadAction("send_id must be a number")
    return {"result": await service.confirm_sent(request.app[SIDEBAR], session.userid, send_id,
                                                 str(body.get("status", "")))}


@_api(write=True)
async def group_step_sent(request: web.Request, session: GuideSession) -> Any:
    body = await _json(request)
    push_id = body.get("step_id")
    if not isinstance(push_id, int) or isinstance(push_id, bool):
        raise BadAction("step_id must be a number")
    return {"result": await service.group_step_sent(request.app[SIDEBAR], session.userid, push_id,
                                                    str(body.get("chat_id", "")))}


def setup_sidebar(app: web.Application, settings: Settings) -> None:
    """Add the sidebar's routes (the library loads with every config file: bot/appconfig.py)."""
    load_features()  # a duplicate section id stops the start
    problem = settings.sidebar_url_problem()
    if problem:
        # Not served on whatever Host a request names (cookies not Secure, OAuth and signatures
        # for that host): every sidebar URL answers 503 until the operator sets the URL.
        async def not_configured(request: web.Request) -> web.StreamResponse:
            log.error("sidebar_not_configured", problem=problem)
            texts = request.app[DEPS].config[LIBRARY]
            return web.Response(status=503, text=texts.text("server_error"), content_type="text/plain")

        app.router.add_route("*", "/sidebar{tail:.*}", not_configured)
        return

    async def context(app: web.Application) -> AsyncIterator[None]:
        deps = app[DEPS]
        keys = derive_keys(settings.scrm_sidebar_secret.get_secret_value(),
                           settings.scrm_sidebar_old_secrets.get_secret_value(),
                           settings.wecom_secret.get_secret_value())
        app[SIDEBAR] = Sidebar(
            deps,
            SessionSigner(keys, settings.scrm_sidebar_session_s),
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
    app.router.add_get("/sidebar/api/member-phone", member_phone)
    app.router.add_get("/sidebar/api/library", library)
    app.router.add_post("/sidebar/api/action", action)
    app.router.add_post("/sidebar/api/send", send)
    app.router.add_post("/sidebar/api/sent", sent)
    app.router.add_post("/sidebar/api/group_step_sent", group_step_sent)


async def _redirect_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/sidebar/")
