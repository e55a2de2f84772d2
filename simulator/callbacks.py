"""Deliver callbacks the way WeCom does: sign, encrypt, POST, and re-send on no timely HTTP 200.

WeCom waits ``timeout`` seconds (5 s) for an HTTP 200; otherwise it re-sends the *identical*
request (same query, same body) up to 3 times. Receivers must therefore answer fast and
de-duplicate; this sender lets tests prove both.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from bot.crypto import CallbackCrypto
from simulator import eventxml
from simulator.state import DEFAULT_AGENT_ID

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

    The event helpers return inner XML only (so tests can also inspect it); ``send`` delivers it.
    ``clock`` gives ``CreateTime`` for those helpers; ``timestamp_clock`` the query ``timestamp``
    (real time, as WeCom signs; a demo or test that moves the receiver's clock moves this one too).
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
        agent_id: int = DEFAULT_AGENT_ID,
        clock: Callable[[], float] = time.time,
        timestamp_clock: Callable[[], float] = time.time,
    ) -> None:
        self.crypto = crypto
        self.target_url = target_url
        self.session = session
        self.timeout = timeout
        self.max_resends = max_resends
        self.resend_delay = resend_delay
        self.agent_id = agent_id
        self._clock = clock
        self._timestamp_clock = timestamp_clock

    @property
    def corp_id(self) -> str:
        return self.crypto.corp_id

    def _now(self) -> int:
        return int(self._clock())

    # --- inner XML of events (PROTOCOL.md section 2) -------------------------------------------

    def add_external_contact(
        self,
        userid: str,
        external_userid: str,
        state: str | None = None,
        welcome_code: str | None = None,
        create_time: int | None = None,
    ) -> str:
        return eventxml.change_external_contact(
            self.corp_id,
            create_time or self._now(),
            "add_external_contact",
            userid,
            external_userid,
            state=state,
            welcome_code=welcome_code,
        )

    def add_half_external_contact(
        self,
        userid: str,
        external_userid: str,
        state: str | None = None,
        welcome_code: str | None = None,
        create_time: int | None = None,
    ) -> str:
        return eventxml.change_external_contact(
            self.corp_id,
            create_time or self._now(),
            "add_half_external_contact",
            userid,
            external_userid,
            state=state,
            welcome_code=welcome_code,
        )

    def edit_external_contact(self, userid: str, external_userid: str, create_time: int | None = None) -> str:
        return eventxml.change_external_contact(
            self.corp_id, create_time or self._now(), "edit_external_contact", userid, external_userid
        )

    def del_external_contact(
        self, userid: str, external_userid: str, source: str | None = None, create_time: int | None = None
    ) -> str:
        return eventxml.change_external_contact(
            self.corp_id, create_time or self._now(), "del_external_contact", userid, external_userid, source=source
        )

    def del_follow_user(self, userid: str, external_userid: str, create_time: int | None = None) -> str:
        return eventxml.change_external_contact(
            self.corp_id, create_time or self._now(), "del_follow_user", userid, external_userid
        )

    def transfer_fail(
        self, userid: str, external_userid: str, fail_reason: str = "customer_refused", create_time: int | None = None
    ) -> str:
        return eventxml.change_external_contact(
            self.corp_id,
            create_time or self._now(),
            "transfer_fail",
            userid,
            external_userid,
            fail_reason=fail_reason,
        )

    def external_chat(
        self,
        chat_id: str,
        change_type: str,
        update_detail: str | None = None,
        member_change_list: Sequence[str] | None = None,
        *,
        join_scene: int | None = None,
        quit_scene: int | None = None,
        last_mem_ver: str | None = None,
        cur_mem_ver: str | None = None,
        create_time: int | None = None,
    ) -> str:
        return eventxml.change_external_chat(
            self.corp_id,
            create_time or self._now(),
            chat_id,
            change_type,
            update_detail=update_detail,
            join_scene=join_scene,
            quit_scene=quit_scene,
            member_change_list=member_change_list,
            last_mem_ver=last_mem_ver,
            cur_mem_ver=cur_mem_ver,
        )

    def external_tag(self, tag_id: str, tag_type: str, change_type: str, create_time: int | None = None) -> str:
        return eventxml.change_external_tag(self.corp_id, create_time or self._now(), tag_id, tag_type, change_type)

    def text_message(self, from_user: str, content: str, msg_id: str, create_time: int | None = None) -> str:
        return eventxml.text_message(
            self.corp_id, create_time or self._now(), from_user, content, msg_id, self.agent_id
        )

    def template_card_event(
        self,
        from_user: str,
        event_key: str,
        task_id: str,
        response_code: str,
        card_type: str = "button_interaction",
        *,
        selected_items: dict[str, list[str]] | None = None,
        create_time: int | None = None,
    ) -> str:
        return eventxml.template_card_event(
            self.corp_id,
            create_time or self._now(),
            from_user,
            event_key=event_key,
            task_id=task_id,
            response_code=response_code,
            card_type=card_type,
            agent_id=self.agent_id,
            selected_items=selected_items,
        )

    def enter_agent(self, from_user: str, create_time: int | None = None) -> str:
        return eventxml.enter_agent(self.corp_id, create_time or self._now(), from_user, self.agent_id)

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
