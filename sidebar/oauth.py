"""Who is on the page: OAuth2 ``snsapi_base`` with a checked ``state``, code → ``auth/getuserinfo``.

``state`` is random and lives only in the browser: a short cookie, signed, holding the state
and the page to return to for 10 minutes. A callback must carry the state this browser was
given (no login CSRF); the code it brings is good once (WeCom's rule). Nothing is stored on the
server for a visitor who has not logged in, so anonymous requests cannot fill Redis. The page to
return to is allow-listed (a path under ``/sidebar/`` of our own site) and capped in length.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from bot.deps import Deps
from bot.wecom.errors import WeComError
from sidebar.session import SessionError, SessionSigner

__all__ = ["STATE_COOKIE", "BadState", "InvalidCode", "LoginError", "NotMember", "begin_login", "finish_login",
           "safe_next"]

STATE_COOKIE = "scrm_sidebar_state"
STATE_TTL_S = 600
_DEFAULT_NEXT = "/sidebar/"
NEXT_MAX = 512  # a longer page to return to is not ours: back to the sidebar's start


class LoginError(Exception):
    """The login did not go through; the subclass says why (each has its own page)."""


class BadState(LoginError):
    """``state`` missing, unknown, used, or not this browser's."""


class InvalidCode(LoginError):
    """40029: the code is unknown, used or older than 5 minutes."""


class NotMember(LoginError):
    """The person is not a member of the corp (WeCom answered with an openid)."""


@dataclass(frozen=True, slots=True)
class LoginStart:
    authorize_url: str
    state_cookie: str


def safe_next(target: str | None) -> str:
    """A page of ours to return to: a ``/sidebar/`` path, no scheme, no host, no ``//``."""
    if not target or len(target) > NEXT_MAX:
        return _DEFAULT_NEXT
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/sidebar/") or "//" in parts.path or "\\" in target:
        return _DEFAULT_NEXT
    return parts.path + (f"?{parts.query}" if parts.query else "")


def begin_login(deps: Deps, signer: SessionSigner, redirect_uri: str, next_target: str | None) -> LoginStart:
    s = deps.settings
    state = secrets.token_urlsafe(18)
    cookie = signer.seal_state(state, safe_next(next_target), deps.clock.timestamp() + STATE_TTL_S)
    query = urlencode({
        "appid": s.wecom_corp_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "snsapi_base",
        "state": state,
        "agentid": s.wecom_agent_id,
    })
    base = s.scrm_sidebar_oauth_base.rstrip("/")
    return LoginStart(f"{base}/connect/oauth2/authorize?{query}#wechat_redirect", cookie)


async def finish_login(
    deps: Deps, signer: SessionSigner, code: str, state: str, state_cookie: str | None
) -> tuple[str, str]:
    """(userid, page to return to). The state is checked before WeCom is asked anything."""
    try:
        browser_state, next_target = signer.open_state(state_cookie, deps.clock.timestamp())
    except SessionError as err:
        raise BadState(f"state cookie: {err}") from None
    if not state or not hmac.compare_digest(state.encode(), browser_state.encode()):
        raise BadState("state does not match this browser")
    if not code:
        raise InvalidCode("no code")
    try:
        answer = await deps.wecom.call("auth/getuserinfo", method="GET", params={"code": code})
    except WeComError as err:
        if err.errcode == 40029:
            raise InvalidCode("invalid code") from err
        raise
    userid = answer.get("userid") or answer.get("UserId")
    if not userid:
        raise NotMember("not a member")
    return str(userid), safe_next(next_target)
