"""The browser side of the fake WeCom: OAuth codes, JS-SDK tickets, temporary media, the chat device.

WeCom's in-app browser opens a sidebar page in the chat toolbar (聊天工具栏) for one member, in one
chat. The simulator holds that as ``device``: who holds the phone and which chat is open. The
JS bridge stand-in (``simulator/jsbridge.py``) plays the WeCom client's JS APIs against it and
records what the guide sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from simulator.faults import SlidingWindow

__all__ = [
    "CODE_TTL",
    "MEDIA_TTL",
    "TICKET_KINDS",
    "TICKET_TTL",
    "BridgeSession",
    "BrowserState",
    "Device",
    "IssuedTicket",
    "Media",
    "OAuthCode",
    "SentChatMessage",
    "jsapi_signature",
]

CODE_TTL = 300.0  # an OAuth code lives 5 minutes and is good once
MEDIA_TTL = 3 * 86400.0  # a temporary media_id lives 3 days
TICKET_TTL = 7200
# kind -> (hourly quota): the corp ticket (wx.config) 400 an hour per corp, the app ticket
# (wx.agentConfig) 100 an hour per app (WeCom's documented limits; over them → 45009).
TICKET_KINDS: dict[str, int] = {"corp": 400, "agent_config": 100}


def jsapi_signature(ticket: str, noncestr: str, timestamp: int | str, url: str) -> str:
    """WeCom's JS-SDK signature: sha1 of the four fields in this fixed order, raw values."""
    text = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - WeCom's protocol, not our choice


@dataclass
class OAuthCode:
    code: str
    userid: str
    agent_id: int
    expires_at: float
    used: bool = False


@dataclass
class IssuedTicket:
    ticket: str
    kind: str  # "corp" | "agent_config"
    expires_at: float


@dataclass
class Media:
    media_id: str
    type: str
    filename: str
    size: int
    created_at: float
    expires_at: float


@dataclass
class Device:
    """The phone: the member using WeCom and the chat whose toolbar opened the page."""

    userid: str = ""
    entry: str = "single_chat_tools"  # getContext's entry
    external_userid: str = ""  # the customer of a 1:1 chat (single_chat_tools / contact_profile)
    chat_id: str = ""  # the customer group (group_chat_tools)
    cancel_next_send: bool = False  # the guide cancels the next sendChatMessage


@dataclass
class BridgeSession:
    """One page load: what ``wx.config`` / ``wx.agentConfig`` established for it."""

    bridge_id: str
    url: str
    config_ok: bool = False
    agent_config_ok: bool = False


@dataclass
class SentChatMessage:
    """What the guide put into the chat through ``sendChatMessage``."""

    userid: str
    entry: str
    external_userid: str
    chat_id: str
    msgtype: str
    payload: dict[str, Any]
    at: float


@dataclass
class BrowserState:
    # Hosts the app's pages may be on (网页授权及JS-SDK 可信域名): "host:port" must match exactly;
    # a bare host (the default loopback names) matches any port, a simulator convenience.
    trusted_domains: set[str] = field(default_factory=lambda: {"127.0.0.1", "localhost"})
    codes: dict[str, OAuthCode] = field(default_factory=dict)
    tickets: dict[str, IssuedTicket] = field(default_factory=dict)  # by ticket string
    ticket_windows: dict[str, SlidingWindow] = field(default_factory=dict)  # by kind
    media: dict[str, Media] = field(default_factory=dict)
    device: Device = field(default_factory=Device)
    bridges: dict[str, BridgeSession] = field(default_factory=dict)
    sent: list[SentChatMessage] = field(default_factory=list)

    def trusts(self, host: str, port: int | None) -> bool:
        return host in self.trusted_domains or f"{host}:{port}" in self.trusted_domains

    def live_ticket(self, ticket: str, kind: str, now: float) -> bool:
        issued = self.tickets.get(ticket)
        return issued is not None and issued.kind == kind and now < issued.expires_at

    def expire_tickets(self, now: float) -> None:
        for issued in self.tickets.values():
            issued.expires_at = min(issued.expires_at, now)

    def sent_by(self, userid: str) -> list[SentChatMessage]:
        return [message for message in self.sent if message.userid == userid]
