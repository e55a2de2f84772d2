"""Who is on the page: OAuth2 ``snsapi_base`` with a checked ``state``, code → ``auth/getuserinfo``.

``state`` is random, kept in Redis for 10 minutes (good once) with the page to return to, and
also set in a short cookie: a callback must carry the state this browser was given (no login
CSRF). The page to return to is allow-listed: a path under ``/sidebar/`` of our own site.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from bot.deps import Deps
from bot.wecom.errors import WeComError

__all__ = ["STATE_COOKIE", "BadState", "InvalidCode", "LoginError", "NotMember", "begin_login", "finish_login",
           "safe_next"]

STATE_COOKIE = "scrm_sidebar_state"
STATE_TTL_S = 600
_DEFAULT_NEXT = "/sidebar/"


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
    state: str


def safe_next(target: str | None) -> str:
    """A page of ours to return to: a ``/sidebar/`` path, no scheme, no host, no ``//``."""
    if not target:
        return _DEFAULT_NEXT
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/sidebar/") or "//" in parts.path or "\\" in target:
        return _DEFAULT_NEXT
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _state_key(deps: Deps, state: str) -> str:
    return f"{{{deps.settings.scrm_redis_prefix}}}:sidebar:oauth:{state}"


async def begin_login(deps: Deps, redirect_uri: str, next_target: str | None) -> LoginStart:
    s = deps.settings
    state = secrets.token_urlsafe(24)
    await deps.redis.set(_state_key(deps, state), safe_next(next_target), ex=STATE_TTL_S)
    query = urlencode({
        "appid": s.wecom_corp_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "snsapi_base",
        "state": state,
        "agentid": s.wecom_agent_id,
    })
    base = s.scrm_sidebar_oauth_base.rstrip("/")
    return LoginStart(f"{base}/connect/oauth2/authorize?{query}#wechat_redirect", state)


async def finish_login(deps: Deps, code: str, state: str, browser_state: str | None) -> tuple[str, str]:
    """(userid, page to return to). The state is consumed before WeCom is asked anything."""
    if not state or not browser_state or not hmac.compare_digest(state, browser_state):
        raise BadState("state does not match this browser")
    next_target = await deps.redis.getdel(_state_key(deps, state))
    if next_target is None:
        raise BadState("state unknown or used")
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
    target = next_target.decode() if isinstance(next_target, bytes) else str(next_target)
    return str(userid), safe_next(target)
