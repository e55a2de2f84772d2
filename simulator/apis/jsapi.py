"""JS-SDK tickets: ``get_jsapi_ticket`` (the corp ticket, for ``wx.config``) and
``ticket/get?type=agent_config`` (the app ticket, for ``wx.agentConfig``).

Each answer is a new ticket valid ``expires_in`` (7200 s) on the simulator clock; the two kinds
are distinct and not interchangeable (the bridge refuses one signed with the other). Quotas per
hour: 400 corp tickets, 100 app tickets; past them 45009.
"""

from __future__ import annotations

from typing import Any

from simulator.apis.base import ApiRequest, Endpoint
from simulator.browser import TICKET_KINDS, TICKET_TTL, IssuedTicket
from simulator.errors import ApiError, ErrCode
from simulator.faults import SlidingWindow

__all__ = ["ENDPOINTS"]


def _issue(request: ApiRequest, kind: str) -> dict[str, Any]:
    browser = request.state.browser
    window = browser.ticket_windows.get(kind)
    if window is None:
        window = browser.ticket_windows[kind] = SlidingWindow(TICKET_KINDS[kind], request.state.now, 3600.0)
    if not window.try_acquire():
        raise ApiError(ErrCode.FREQUENCY_LIMIT, f"{kind} ticket quota")
    ticket = request.state.ids.make("sim_" + ("kgt" if kind == "corp" else "agt") + "_", 86)
    browser.tickets[ticket] = IssuedTicket(ticket, kind, request.now + TICKET_TTL)
    return {"ticket": ticket, "expires_in": TICKET_TTL}


def corp_ticket(request: ApiRequest) -> dict[str, Any]:
    return _issue(request, "corp")


def app_ticket(request: ApiRequest) -> dict[str, Any]:
    kind = request.query.get("type", "")
    if kind != "agent_config":
        raise ApiError(ErrCode.INVALID_TICKET_TYPE, kind)
    return _issue(request, kind)


ENDPOINTS = (
    Endpoint("get_jsapi_ticket", "GET", corp_ticket),
    Endpoint("ticket/get", "GET", app_ticket),
)
