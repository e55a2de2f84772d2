"""The fake ``qyapi.weixin.qq.com``: an aiohttp app serving ``/cgi-bin/...`` from a SimulatorState.

Every request is recorded in ``state.calls``; then injected faults apply (latency, HTTP error,
errcode), then the token check, the per-API rate limit and the API itself. Answers are HTTP 200
JSON with ``errcode``/``errmsg``, as WeCom's are, except injected HTTP errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from simulator.apis import ENDPOINTS, ApiRequest, Endpoint
from simulator.control import setup_control_routes
from simulator.errors import ApiError, ErrCode, errmsg_for
from simulator.jsbridge import setup_browser_routes
from simulator.keys import CALLBACK_KEY, ENDPOINTS_KEY, SESSION_KEY, STATE_KEY, CallbackTarget
from simulator.models import ApiCall
from simulator.state import SimulatorState

__all__ = ["SimulatorServer", "create_simulator_app", "running_simulator", "serve_simulator"]

logger = logging.getLogger(__name__)

# Robot images may be 2 MB, i.e. ~2.7 MB of base64: aiohttp's 1 MB default would refuse them
# before the simulator could answer with WeCom's own errcode.
_MAX_BODY = 8 * 1024 * 1024


async def _client_session(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        app[SESSION_KEY] = session
        yield


def create_simulator_app(
    state: SimulatorState, *, callback_url: str | None = None, callback_timeout: float = 5.0
) -> web.Application:
    """The simulator as an aiohttp app (``/cgi-bin/*`` APIs, ``/_sim/*`` control endpoints)."""
    app = web.Application(client_max_size=_MAX_BODY)
    app[STATE_KEY] = state
    app[ENDPOINTS_KEY] = {endpoint.api: endpoint for endpoint in ENDPOINTS}
    app[CALLBACK_KEY] = CallbackTarget(callback_url, timeout=callback_timeout)
    app.cleanup_ctx.append(_client_session)
    setup_browser_routes(app)  # before the catch-all: media/upload is multipart
    app.router.add_route("*", "/cgi-bin/{api:.+}", handle_api)
    setup_control_routes(app)
    return app


async def _read_json(request: web.Request) -> tuple[dict[str, Any] | None, bool]:
    """(body, well_formed): an empty body is ``{}``; anything but a JSON object is malformed."""
    raw = await request.read()
    if not raw.strip():
        return {}, True
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, False
    return (body, True) if isinstance(body, dict) else (None, False)


def _check_token(state: SimulatorState, token: str | None) -> None:
    if not token:
        raise ApiError(ErrCode.MISSING_ACCESS_TOKEN)
    record = state.tokens.get(token)
    if record is None:
        raise ApiError(ErrCode.INVALID_ACCESS_TOKEN)
    if state.now() >= record.expires_at:
        raise ApiError(ErrCode.ACCESS_TOKEN_EXPIRED)


def _dispatch(
    state: SimulatorState,
    endpoints: Mapping[str, Endpoint],
    call: ApiCall,
    token: str | None,
    well_formed: bool,
) -> dict[str, Any]:
    endpoint = endpoints.get(call.api)
    if endpoint is None:
        raise ApiError(ErrCode.API_UNAUTHORIZED, f"unknown api {call.api}")
    if endpoint.needs_token:
        _check_token(state, token)
    if not state.rate_limits.allow(call.api):
        raise ApiError(ErrCode.FREQUENCY_LIMIT)
    if not well_formed:
        raise ApiError(ErrCode.DATA_FORMAT_ERROR, "Warning: wrong json format.")
    answer = endpoint.handler(ApiRequest(call.api, call.method, call.query, call.body or {}, state))
    return {"errcode": 0, "errmsg": "ok", **answer}


async def handle_api(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    api = request.match_info["api"]
    token = request.query.get("access_token")
    body, well_formed = await _read_json(request) if request.method == "POST" else ({}, True)
    query = {name: value for name, value in request.query.items() if name != "access_token"}
    call = ApiCall(api, request.method, query, body if request.method == "POST" else None, state.now())
    state.calls.append(call)

    fault = state.faults.pick(api)
    if fault is not None:
        if fault.latency > 0:
            await asyncio.sleep(fault.latency)
        if fault.http_status is not None:
            call.http_status, call.errcode = fault.http_status, None
            return web.Response(status=fault.http_status, text="injected HTTP error")
        if fault.errcode is not None:
            call.errcode = fault.errcode
            return web.json_response({"errcode": fault.errcode, "errmsg": errmsg_for(fault.errcode, "injected")})

    try:
        answer = _dispatch(state, request.app[ENDPOINTS_KEY], call, token, well_formed)
    except ApiError as err:
        answer = {"errcode": err.errcode, "errmsg": err.errmsg, **err.extra}
    call.errcode = int(answer["errcode"])
    return web.json_response(answer, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


@dataclass
class SimulatorServer:
    """A running simulator: use ``url`` as the WeCom API base (``{url}/cgi-bin/gettoken``…)."""

    url: str
    state: SimulatorState
    app: web.Application

    @property
    def calls(self) -> list[ApiCall]:
        return self.state.calls

    @property
    def callback(self) -> CallbackTarget:
        return self.app[CALLBACK_KEY]

    def webhook_url(self, key: str) -> str:
        return f"{self.url}/cgi-bin/webhook/send?key={key}"


@asynccontextmanager
async def running_simulator(
    state: SimulatorState | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    callback_url: str | None = None,
    callback_timeout: float = 5.0,
) -> AsyncIterator[SimulatorServer]:
    """Run the simulator on ``host:port`` (0: a free port) for the duration of the block."""
    state = state or SimulatorState()
    app = create_simulator_app(state, callback_url=callback_url, callback_timeout=callback_timeout)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        if bound_host in ("0.0.0.0", "::"):  # noqa: S104 - mapping a wildcard bind to a reachable address
            bound_host = "127.0.0.1"
        state.base_url = f"http://{bound_host}:{bound_port}"
        yield SimulatorServer(f"http://{bound_host}:{bound_port}", state, app)
    finally:
        await runner.cleanup()


async def serve_simulator(
    host: str, port: int, state: SimulatorState | None = None, callback_url: str | None = None
) -> None:
    """Run the simulator until cancelled (``scrm simulator``)."""
    async with running_simulator(state, host, port, callback_url=callback_url) as server:
        logger.info("WeCom simulator listening on %s (callbacks to %s)", server.url, callback_url or "nowhere yet")
        await asyncio.Event().wait()
