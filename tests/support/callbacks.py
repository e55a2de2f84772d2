"""Posting WeCom callbacks to the app as WeCom does: the test corp's crypto, signed and encrypted."""

from __future__ import annotations

import time

import aiohttp

from bot.crypto import CallbackCrypto
from tests.conftest import AES_KEY, CORP_ID, TOKEN, RunningApp

CRYPTO = CallbackCrypto(TOKEN, AES_KEY, CORP_ID)


def add_contact_xml(external_userid: str = "wmEXT001", create_time: int | None = None) -> str:
    """A guide added a customer (the inner XML WeCom encrypts)."""
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType>"
        f"<UserID><![CDATA[guide01]]></UserID><ExternalUserID><![CDATA[{external_userid}]]></ExternalUserID>"
        "<State><![CDATA[store_sh01]]></State><WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode></xml>"
    )


def signed(
    inner_xml: str, crypto: CallbackCrypto = CRYPTO, timestamp: int | None = None
) -> tuple[dict[str, str], bytes]:
    """The query (signature, timestamp, nonce) and body WeCom would post, signed now unless told."""
    return crypto.encrypted_callback(inner_xml, str(timestamp if timestamp is not None else int(time.time())))


async def post_callback(http: aiohttp.ClientSession, app: RunningApp, params: dict[str, str],
                        body: bytes) -> tuple[int, str]:
    async with http.post(app.callback_url, params=params, data=body) as resp:
        return resp.status, await resp.text()
