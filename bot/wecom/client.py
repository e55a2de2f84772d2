"""The async WeCom API client (aiohttp). The only code that talks HTTP to WeCom.

One ``call`` does the protocol: each try first takes one call from the API's budget shared by
every process (bot/wecom/budget.py), the access token in the query, ``errcode`` checked, a
refused token refreshed once, -1 / 45009 / 45033 / HTTP 5xx / timeouts retried with capped
exponential backoff and full jitter, every other errcode raised as a typed error. The methods below are thin
and name the APIs the product uses (PROTOCOL.md section 3).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from redis.asyncio import Redis

from bot.wecom import limits
from bot.wecom.budget import ApiBudgets
from bot.wecom.errors import (
    RETRYABLE_ERRCODES,
    TOKEN_ERRCODES,
    WeComConfigError,
    WeComError,
    WeComRetryableError,
    WeComUnavailable,
    error_for,
)
from bot.wecom.token import TokenStore

__all__ = ["WeComClient", "RetryPolicy", "Upload"]

log = structlog.get_logger(__name__)

Json = dict[str, Any]


def _within(api: str, content: str, max_bytes: int) -> str:
    """The last guard before WeCom: senders fit their text (bot/wecom/limits.py) and this never
    fires for them; a text that still runs over is shortened and logged rather than refused."""
    if limits.utf8_len(content) <= max_bytes:
        return content
    log.warning("wecom_text_shortened", api=api, size=limits.utf8_len(content), limit=max_bytes)
    return limits.fit(content, max_bytes)


class RetryPolicy:
    def __init__(
        self,
        max_retries: int = 5,
        base_s: float = 0.5,
        max_s: float = 30.0,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.max_retries = max_retries
        self.base_s = base_s
        self.max_s = max_s
        self.sleep = sleep
        self.rng = rng

    def delay(self, retry: int) -> float:
        """Full jitter: uniform in [0, min(max, base·2^retry)]."""
        return self.rng() * min(self.max_s, self.base_s * float(2**retry))


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent as a multipart form (``media/upload``), rebuilt for every try."""

    filename: str
    content: bytes
    content_type: str
    field: str = "media"

    def form(self) -> aiohttp.FormData:
        form = aiohttp.FormData()
        form.add_field(self.field, self.content, filename=self.filename, content_type=self.content_type)
        return form


class _Transient(Exception):
    """HTTP 5xx, timeout, connection failure or a non-JSON answer: worth another try."""


class WeComClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_base: str,
        corp_id: str,
        secret: str,
        agent_id: int,
        redis: Redis,
        redis_prefix: str,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        budgets: ApiBudgets | None = None,
    ) -> None:
        self._session = session
        self._base = api_base.rstrip("/")
        self._corp_id = corp_id
        self._secret = secret
        self.agent_id = agent_id
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._retry = retry or RetryPolicy()
        self.budgets = budgets
        # Tokens are per (corp, secret): key by a digest of the secret, never the secret itself.
        secret_tag = hashlib.sha256(secret.encode()).hexdigest()[:12]
        self.tokens = TokenStore(redis, f"{{{redis_prefix}}}:wecom:token:{corp_id}:{secret_tag}", self._fetch_token)

    # --- protocol --------------------------------------------------------------------------------
    async def _fetch_token(self) -> tuple[str, int]:
        data = await self._with_retries(
            "gettoken", "GET", {"corpid": self._corp_id, "corpsecret": self._secret}, None, use_token=False
        )
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    async def call(
        self, api: str, *, method: str = "POST", params: Json | None = None, body: Json | None = None
    ) -> Json:
        """Call ``/cgi-bin/<api>`` with the access token; return the JSON answer (errcode 0)."""
        return await self._with_retries(api, method, params or {}, body, use_token=True)

    async def _with_retries(
        self, api: str, method: str, params: Json, body: Json | Upload | None, *, use_token: bool
    ) -> Json:
        refreshed = False
        retries = 0
        while True:
            token = await self.tokens.get() if use_token else None
            query = params | {"access_token": token} if token else params
            if token and self.budgets is not None:
                await self.budgets.spend(api)  # every try is a call WeCom counts against the corp
            try:
                data = await self._send(api, method, query, body)
            except _Transient as err:
                if retries >= self._retry.max_retries:
                    raise WeComUnavailable(None, str(err), api) from err
                await self._back_off(api, retries, str(err))
                retries += 1
                continue
            errcode = int(data.get("errcode", 0))
            if errcode == 0:
                return data
            errmsg = str(data.get("errmsg", ""))
            if token and errcode in TOKEN_ERRCODES and not refreshed:
                # The token expired or was revoked early: drop it, fetch a fresh one, try once more.
                refreshed = True
                log.info("wecom_token_rejected", api=api, errcode=errcode)
                await self.tokens.invalidate(token)
                continue
            error = error_for(errcode, errmsg, api)
            if errcode in RETRYABLE_ERRCODES and retries < self._retry.max_retries:
                await self._back_off(api, retries, f"errcode {errcode}")
                retries += 1
                continue
            if isinstance(error, WeComConfigError):
                log.error("wecom_configuration_error", api=api, errcode=errcode, errmsg=errmsg)
            raise error

    async def _back_off(self, api: str, retry: int, reason: str) -> None:
        delay = self._retry.delay(retry)
        log.warning("wecom_retry", api=api, retry=retry + 1, delay_s=round(delay, 3), reason=reason)
        await self._retry.sleep(delay)

    async def _send(self, api: str, method: str, query: Json, body: Json | Upload | None) -> Json:
        url = f"{self._base}/cgi-bin/{api}"
        payload: dict[str, Any] = {"data": body.form()} if isinstance(body, Upload) else {"json": body}
        try:
            async with self._session.request(method, url, params=query, timeout=self._timeout, **payload) as resp:
                if resp.status >= 500:
                    raise _Transient(f"HTTP {resp.status}")
                if resp.status != 200:
                    raise WeComError(None, f"HTTP {resp.status}", api)
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise _Transient(f"{type(err).__name__}") from err
        if not isinstance(data, dict):
            raise _Transient("answer is not a JSON object")
        return data

    # --- external contacts -----------------------------------------------------------------------
    async def get_external_contact(self, external_userid: str, cursor: str = "") -> Json:
        params = {"external_userid": external_userid} | ({"cursor": cursor} if cursor else {})
        return await self.call("externalcontact/get", method="GET", params=params)

    async def get_follow_user_list(self) -> list[str]:
        data = await self.call("externalcontact/get_follow_user_list", method="GET")
        return [str(u) for u in data.get("follow_user", [])]

    async def list_external_contacts(self, userid: str) -> list[str]:
        data = await self.call("externalcontact/list", method="GET", params={"userid": userid})
        return [str(u) for u in data.get("external_userid", [])]

    async def batch_get_by_user(self, userids: Sequence[str], cursor: str = "", limit: int = 100) -> Json:
        if not 1 <= len(userids) <= 100:
            raise ValueError("userid_list takes 1 to 100 members")
        body = {"userid_list": list(userids), "cursor": cursor, "limit": min(limit, 100)}
        return await self.call("externalcontact/batch/get_by_user", body=body)

    async def get_user(self, userid: str) -> Json:
        return await self.call("user/get", method="GET", params={"userid": userid})

    # --- corp tags -------------------------------------------------------------------------------
    async def get_corp_tag_list(self, tag_ids: Sequence[str] = (), group_ids: Sequence[str] = ()) -> list[Json]:
        body: Json = {}
        if tag_ids:
            body["tag_id"] = list(tag_ids)
        if group_ids:
            body["group_id"] = list(group_ids)
        data = await self.call("externalcontact/get_corp_tag_list", body=body)
        return list(data.get("tag_group", []))

    async def add_corp_tag(
        self, tag_names: Sequence[str], *, group_id: str = "", group_name: str = "", order: int | None = None
    ) -> Json:
        if not (group_id or group_name):
            raise ValueError("add_corp_tag needs group_id or group_name")
        body: Json = {"tag": [{"name": name} for name in tag_names]}
        body |= {"group_id": group_id} if group_id else {"group_name": group_name}
        if order is not None:
            body["order"] = order
        data = await self.call("externalcontact/add_corp_tag", body=body)
        return dict(data.get("tag_group", {}))

    async def edit_corp_tag(self, tag_or_group_id: str, *, name: str | None = None, order: int | None = None) -> None:
        body: Json = {"id": tag_or_group_id}
        if name is not None:
            body["name"] = name
        if order is not None:
            body["order"] = order
        await self.call("externalcontact/edit_corp_tag", body=body)

    async def del_corp_tag(self, tag_ids: Sequence[str] = (), group_ids: Sequence[str] = ()) -> None:
        await self.call("externalcontact/del_corp_tag", body={"tag_id": list(tag_ids), "group_id": list(group_ids)})

    async def mark_tag(
        self, userid: str, external_userid: str, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        body = {"userid": userid, "external_userid": external_userid, "add_tag": list(add), "remove_tag": list(remove)}
        await self.call("externalcontact/mark_tag", body=body)

    # --- customer messages -----------------------------------------------------------------------
    async def send_welcome_msg(self, welcome_code: str, text: str, attachments: Sequence[Json] = ()) -> None:
        text = _within("send_welcome_msg", text, limits.CUSTOMER_TEXT_MAX_BYTES)
        body: Json = {"welcome_code": welcome_code, "text": {"content": text}}
        if attachments:
            body["attachments"] = list(attachments)[:9]
        await self.call("externalcontact/send_welcome_msg", body=body)

    async def add_msg_template(
        self, sender: str, external_userids: Sequence[str], text: str, attachments: Sequence[Json] = ()
    ) -> Json:
        body: Json = {
            "chat_type": "single",
            "external_userid": list(external_userids),
            "sender": sender,
            "text": {"content": _within("add_msg_template", text, limits.CUSTOMER_TEXT_MAX_BYTES)},
        }
        if attachments:
            body["attachments"] = list(attachments)
        return await self.call("externalcontact/add_msg_template", body=body)

    async def add_contact_way(self, userids: Sequence[str], state: str, *, skip_verify: bool = True) -> Json:
        if len(state) > 30:
            raise ValueError("contact-way state is at most 30 characters")
        body = {
            "type": 1 if len(userids) == 1 else 2,
            "scene": 2,
            "user": list(userids),
            "state": state,
            "skip_verify": skip_verify,
        }
        return await self.call("externalcontact/add_contact_way", body=body)

    async def create_contact_way(self, way: Json) -> Json:
        """``add_contact_way`` with the whole body (type, scene, user/party, state, remark, skip_verify)."""
        if len(str(way.get("state", ""))) > 30:
            raise ValueError("contact-way state is at most 30 characters")
        return await self.call("externalcontact/add_contact_way", body=way)

    async def update_contact_way(self, config_id: str, changes: Json) -> None:
        await self.call("externalcontact/update_contact_way", body={"config_id": config_id, **changes})

    async def del_contact_way(self, config_id: str) -> None:
        await self.call("externalcontact/del_contact_way", body={"config_id": config_id})

    async def get_contact_way(self, config_id: str) -> Json:
        data = await self.call("externalcontact/get_contact_way", body={"config_id": config_id})
        return dict(data.get("contact_way", {}))

    # --- address book ----------------------------------------------------------------------------
    async def list_departments(self, root: int | None = None) -> list[Json]:
        params = {"id": str(root)} if root is not None else {}
        data = await self.call("department/list", method="GET", params=params)
        return list(data.get("department", []))

    async def list_user_ids(self, cursor: str = "", limit: int = 10000) -> Json:
        """One page of ``{userid, department}`` pairs and the ``next_cursor`` ("" at the end)."""
        return await self.call("user/list_id", body={"cursor": cursor, "limit": limit})

    # --- media -----------------------------------------------------------------------------------
    async def upload_media(self, kind: str, upload: Upload) -> str:
        """A temporary material (valid 3 days); its ``media_id``."""
        data = await self._with_retries("media/upload", "POST", {"type": kind}, upload, use_token=True)
        return str(data["media_id"])

    async def download(self, url: str, max_bytes: int = 2 * 1024 * 1024) -> bytes:
        """A file WeCom serves by URL (a contact way's ``qr_code`` image), at most ``max_bytes``."""
        try:
            async with self._session.get(url, timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise WeComError(None, f"HTTP {resp.status}", "download")
                content = await resp.content.read(max_bytes + 1)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise WeComUnavailable(None, type(err).__name__, "download") from err
        if len(content) > max_bytes:
            raise WeComError(None, f"larger than {max_bytes} bytes", "download")
        return content

    # --- customer transfer -----------------------------------------------------------------------
    async def transfer_customer(
        self,
        handover: str,
        takeover: str,
        external_userids: Sequence[str],
        *,
        resigned: bool = False,
        success_msg: str = "",
    ) -> list[Json]:
        if not 1 <= len(external_userids) <= 100:
            raise ValueError("a transfer takes 1 to 100 customers")
        body: Json = {
            "handover_userid": handover,
            "takeover_userid": takeover,
            "external_userid": list(external_userids),
        }
        if success_msg and not resigned:
            body["transfer_success_msg"] = success_msg
        api = "externalcontact/resigned/transfer_customer" if resigned else "externalcontact/transfer_customer"
        data = await self.call(api, body=body)
        return list(data.get("customer", []))

    async def transfer_result(self, handover: str, takeover: str, *, resigned: bool = False, cursor: str = "") -> Json:
        api = "externalcontact/resigned/transfer_result" if resigned else "externalcontact/transfer_result"
        body = {"handover_userid": handover, "takeover_userid": takeover, "cursor": cursor}
        return await self.call(api, body=body)

    # --- group chats -----------------------------------------------------------------------------
    async def groupchat_get(self, chat_id: str) -> Json:
        data = await self.call("externalcontact/groupchat/get", body={"chat_id": chat_id, "need_name": 1})
        return dict(data.get("group_chat", {}))

    async def groupchat_list(self, cursor: str = "", limit: int = 100) -> Json:
        return await self.call(
            "externalcontact/groupchat/list", body={"status_filter": 0, "cursor": cursor, "limit": limit}
        )

    # --- app messages to members -----------------------------------------------------------------
    async def send_message(self, touser: Sequence[str], msgtype: str, payload: Json, *, dedup_s: int = 0) -> Json:
        """message/send to members (guides, operators); never reaches external customers."""
        body: Json = {"touser": "|".join(touser), "msgtype": msgtype, "agentid": self.agent_id, msgtype: payload}
        if dedup_s:
            body |= {"enable_duplicate_check": 1, "duplicate_check_interval": dedup_s}
        return await self.call("message/send", body=body)

    async def send_text(self, touser: Sequence[str], content: str) -> Json:
        content = _within("message/send", content, limits.TEXT_MAX_BYTES)
        return await self.send_message(touser, "text", {"content": content})

    async def send_markdown(self, touser: Sequence[str], content: str) -> Json:
        content = _within("message/send", content, limits.MARKDOWN_MAX_BYTES)
        return await self.send_message(touser, "markdown", {"content": content})

    async def send_image(self, touser: Sequence[str], media_id: str) -> Json:
        return await self.send_message(touser, "image", {"media_id": media_id})

    async def send_template_card(self, touser: Sequence[str], card: Json) -> Json:
        return await self.send_message(touser, "template_card", card)

    async def update_template_card(
        self, userids: Sequence[str], response_code: str, *, replace_name: str | None = None, card: Json | None = None
    ) -> Json:
        body: Json = {"userids": list(userids), "agentid": self.agent_id, "response_code": response_code}
        if card is not None:
            body["template_card"] = card
        else:
            body["button"] = {"replace_name": replace_name or "已处理"}
        return await self.call("message/update_template_card", body=body)

    # --- group robot (no token; the key is the credential) ---------------------------------------
    async def webhook_send(self, key: str, payload: Json) -> None:
        await self._with_retries("webhook/send", "POST", {"key": key}, payload, use_token=False)

    async def webhook_markdown(self, key: str, content: str) -> None:
        content = _within("webhook/send", content, limits.ROBOT_MARKDOWN_MAX_BYTES)
        await self.webhook_send(key, {"msgtype": "markdown", "markdown": {"content": content}})

    async def webhook_image(self, key: str, png: bytes) -> None:
        if len(png) > 2 * 1024 * 1024:
            raise ValueError("robot images are at most 2 MB")
        image = {"base64": base64.b64encode(png).decode(), "md5": hashlib.md5(png).hexdigest()}  # noqa: S324
        await self.webhook_send(key, {"msgtype": "image", "image": image})


__all__ += ["WeComError", "WeComRetryableError"]
