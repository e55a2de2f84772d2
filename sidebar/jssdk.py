"""JS-SDK signatures for ``wx.config`` (the corp ticket) and ``wx.agentConfig`` (the app ticket).

Tickets are cached in Redis per (corp, agent, kind) and fetched single-flight across processes
(the access token's ``TokenStore``). Each fetch is counted against our own hourly budget per
kind, below WeCom's quotas (400 corp / 100 app tickets an hour). Tickets never leave the server:
the page gets signatures and a short fingerprint of the ticket it was signed with, which it
sends back when the client refused the signature.

That budget is the corp's, so a renewal is hard to get: only for the ticket in use, only once it
is older than SCRM_SIDEBAR_TICKET_MIN_AGE_S, at most once per member and kind per 10 minutes,
and the new ticket is fetched before the old one is dropped. When the budget is spent or WeCom
fails, we keep signing with the ticket we have: one member cannot take every guide's sidebar down.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from bot.deps import Deps
from bot.wecom.errors import WeComError
from bot.wecom.token import TokenStore

__all__ = ["KINDS", "TicketBudgetSpent", "TicketKind", "Tickets", "fingerprint", "jsapi_signature", "sign_page"]

log = structlog.get_logger(__name__)

TicketKind = Literal["corp", "agent_config"]
KINDS: tuple[TicketKind, ...] = ("corp", "agent_config")
RENEW_EVERY_S = 600  # one member's renewals of one kind


class TicketBudgetSpent(Exception):
    """This hour's ticket fetches are spent; WeCom would answer 45009."""


def jsapi_signature(ticket: str, noncestr: str, timestamp: int | str, url: str) -> str:
    """sha1 over ``jsapi_ticket=…&noncestr=…&timestamp=…&url=…`` (this order, raw values, no fragment)."""
    text = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url.split('#', 1)[0]}"
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - WeCom's protocol


def fingerprint(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()[:12]


class Tickets:
    """The two ticket kinds of one app, as ``TokenStore``s."""

    def __init__(self, deps: Deps) -> None:
        s = deps.settings
        self._deps = deps
        base = f"{{{s.scrm_redis_prefix}}}:wecom:ticket:{s.wecom_corp_id}:{s.wecom_agent_id}"
        self._base = base
        self._budget_key = base + ":fetches"
        self._stores: dict[TicketKind, TokenStore] = {
            kind: TokenStore(deps.redis, f"{base}:{kind}", self._fetcher(kind), margin_s=600) for kind in KINDS
        }

    def _fetcher(self, kind: TicketKind) -> Any:
        async def fetch() -> tuple[str, int]:
            await self._spend_budget(kind)
            if kind == "corp":
                answer = await self._deps.wecom.call("get_jsapi_ticket", method="GET")
            else:
                answer = await self._deps.wecom.call("ticket/get", method="GET", params={"type": "agent_config"})
            expires_in = int(answer.get("expires_in", 7200))
            await self._deps.redis.set(f"{self._base}:{kind}:fetched_at", int(self._deps.clock.timestamp()),
                                       ex=max(1, expires_in))
            log.info("jsapi_ticket_fetched", kind=kind, expires_in=expires_in)
            return str(answer["ticket"]), expires_in

        return fetch

    async def _spend_budget(self, kind: TicketKind) -> None:
        hour = int(self._deps.clock.timestamp() // 3600)
        key = f"{self._budget_key}:{kind}:{hour}"
        async with self._deps.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 3700)
            spent, _ = await pipe.execute()
        if int(spent) > self._deps.settings.scrm_sidebar_ticket_fetch_per_hour:
            log.warning("jsapi_ticket_budget_spent", kind=kind)
            raise TicketBudgetSpent(kind)

    async def get(self, kind: TicketKind) -> str:
        return await self._stores[kind].get()

    async def renew(self, kind: TicketKind, stale_fingerprint: str, userid: str) -> str:
        """The client refused a signature made with the ticket of ``stale_fingerprint``: a new
        ticket if that one is still in use, old enough, and ``userid`` has not renewed this kind
        in the last 10 minutes; otherwise (or when none can be had) the ticket we have."""
        store = self._stores[kind]
        current = await store.shared()
        if not stale_fingerprint or fingerprint(current) != stale_fingerprint:
            return current  # a page holding an older signature: the current ticket signs it
        fetched_at = await self._deps.redis.get(f"{self._base}:{kind}:fetched_at")
        age = self._deps.clock.timestamp() - float(fetched_at or 0)
        if age < self._deps.settings.scrm_sidebar_ticket_min_age_s:
            log.info("jsapi_ticket_renew_refused", kind=kind, userid=userid, reason="too_young", age_s=int(age))
            return current
        if not await self._deps.redis.set(f"{self._base}:renew:{kind}:{userid}", 1, nx=True, ex=RENEW_EVERY_S):
            log.info("jsapi_ticket_renew_refused", kind=kind, userid=userid, reason="renewed_recently")
            return current
        log.info("jsapi_ticket_refused", kind=kind, userid=userid)
        try:
            return await store.replace(current)
        except (TicketBudgetSpent, WeComError) as err:
            log.warning("jsapi_ticket_kept", kind=kind, reason=type(err).__name__)
            return current


@dataclass(frozen=True, slots=True)
class SignedConfig:
    corp: dict[str, Any]
    agent: dict[str, Any]


async def sign_page(
    deps: Deps, tickets: Tickets, url: str, renew: dict[TicketKind, str] | None = None, *, userid: str = ""
) -> SignedConfig:
    """Signatures for both configs of the page at ``url`` (``renew``: kind → refused fingerprint)."""
    s = deps.settings
    timestamp = int(deps.clock.timestamp())
    signed: dict[TicketKind, dict[str, Any]] = {}
    for kind in KINDS:
        stale = (renew or {}).get(kind, "")
        ticket = await (tickets.renew(kind, stale, userid) if stale else tickets.get(kind))
        nonce = secrets.token_urlsafe(12)
        signed[kind] = {
            "timestamp": timestamp,
            "nonceStr": nonce,
            "signature": jsapi_signature(ticket, nonce, timestamp, url),
            "ticket_fp": fingerprint(ticket),
        }
    corp = {"appId": s.wecom_corp_id, **signed["corp"]}
    agent = {"corpid": s.wecom_corp_id, "agentid": s.wecom_agent_id, **signed["agent_config"]}
    return SignedConfig(corp, agent)
