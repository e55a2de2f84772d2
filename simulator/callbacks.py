"""Deliver callbacks the way WeCom does: sign, encrypt, POST, and re-send on no timely HTTP 200.

WeCom waits ``timeout`` seconds (5 s) for an HTTP 200; otherwise it re-sends the *identical*
request (same query, same body) up to 3 times. Receivers must therefore answer fast and
de-duplicate; this sender lets tests prove both.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from bot.crypto import CallbackCrypto

__all__ = ["CallbackSender", "DeliveryReport", "UrlVerification"]


@dataclass(frozen=True)
class DeliveryReport:
    """How one callback went: one status per attempt (``None`` = no answer in time / no connection)."""

    attempts: int
    statuses: list[int | None]
    elapsed: float
    bodies: list[str] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return bool(self.statuses) and self.statuses[-1] == 200

    def as_dict(self) -> dict[str, object]:
        return {
            "attempts": self.attempts,
            "statuses": self.statuses,
            "elapsed": round(self.elapsed, 4),
            "delivered": self.delivered,
            "bodies": self.bodies,
        }


@dataclass(frozen=True)
class UrlVerification:
    """The answer to WeCom's URL check: ``ok`` when the body is exactly the plaintext echostr."""

    status: int | None
    body: str
    expected: str

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.body == self.expected


class CallbackSender:
    """Sends encrypted callbacks for one app to ``target_url`` with WeCom's re-send behaviour.

    The events themselves (inner XML) come from the simulator's state (``state.customer_scans_qr``,
    ``state.guide_sends_text`` …, built by simulator/eventxml.py); ``send`` delivers one.
    ``timestamp_clock`` gives the query ``timestamp`` (real time, as WeCom signs; a demo or test that
    moves the receiver's clock moves this one too).
    """

    def __init__(
        self,
        crypto: CallbackCrypto,
        target_url: str,
        session: aiohttp.ClientSession,
        *,
        timeout: float = 5.0,
        max_resends: int = 3,
        resend_delay: float = 0.0,
        timestamp_clock: Callable[[], float] = time.time,
    ) -> None:
        self.crypto = crypto
        self.target_url = target_url
        self.session = session
        self.timeout = timeout
        self.max_resends = max_resends
        self.resend_delay = resend_delay
        self._timestamp_clock = timestamp_clock

    @property
    def corp_id(self) -> str:
        return self.crypto.corp_id

    # --- delivery ------------------------------------------------------------------------------

    async def send(self, inner_xml: str, *, timestamp: str | None = None, nonce: str | None = None) -> DeliveryReport:
        """Encrypt, sign and POST ``inner_xml``; re-send the identical request until HTTP 200."""
        params, body = self.crypto.encrypted_callback(
            inner_xml, timestamp or str(int(self._timestamp_clock())), nonce
        )
        return await self.post(params, body)

    async def post(self, params: dict[str, str], body: bytes) -> DeliveryReport:
        """POST an already encrypted callback, with up to ``max_resends`` identical re-sends."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        statuses: list[int | None] = []
        bodies: list[str] = []
        for attempt in range(1 + self.max_resends):
            if attempt and self.resend_delay:
                await asyncio.sleep(self.resend_delay)
            status, text = await self._attempt(params, body)
            statuses.append(status)
            bodies.append(text)
            if status == 200:
                break
        return DeliveryReport(len(statuses), statuses, loop.time() - started, bodies)

    async def _attempt(self, params: dict[str, str], body: bytes) -> tuple[int | None, str]:
        headers = {"Content-Type": "text/xml"}
        try:
            async with self.session.post(
                self.target_url,
                params=params,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                return response.status, await response.text()
        except (TimeoutError, aiohttp.ClientError):
            # WeCom cannot tell a slow receiver from a dead one: both mean "send it again".
            return None, ""

    def verification_params(
        self, echostr_plain: str, *, timestamp: str | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        """The query of WeCom's URL verification GET for ``echostr_plain``."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**10))
        echostr = self.crypto.encrypt(echostr_plain)
        return {
            "msg_signature": self.crypto.sign(timestamp, nonce, echostr),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }

    async def verify_url(self, echostr_plain: str) -> UrlVerification:
        """Do the GET WeCom does when an admin saves the callback URL (answer within 1 s)."""
        params = self.verification_params(echostr_plain)
        try:
            async with self.session.get(
                self.target_url, params=params, timeout=aiohttp.ClientTimeout(total=min(self.timeout, 1.0))
            ) as response:
                return UrlVerification(response.status, await response.text(), echostr_plain)
        except (TimeoutError, aiohttp.ClientError):
            return UrlVerification(None, "", echostr_plain)
