"""The guide's session: a signed cookie bound to (corp, userid), short-lived, HttpOnly.

The cookie is ``base64url(corp|userid|expires).hex(hmac_sha256)``; nothing on the server to
store or clean. The CSRF token a page sends with each write is derived from the cookie, so a
page of another site (which cannot read our page) cannot forge it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

__all__ = ["COOKIE", "GuideSession", "SessionError", "SessionExpired", "SessionSigner", "derive_key"]

COOKIE = "scrm_sidebar"


class SessionError(Exception):
    """No session, or one we did not sign."""


class SessionExpired(SessionError):
    """A session we signed, past its time."""


@dataclass(frozen=True, slots=True)
class GuideSession:
    corp_id: str
    userid: str
    expires_at: int
    raw: str  # the cookie value (the CSRF token is derived from it)


def derive_key(explicit: str, app_secret: str) -> bytes:
    """The signing key: SCRM_SIDEBAR_SECRET, or one derived from the app secret (never the secret itself)."""
    if explicit:
        return explicit.encode()
    return hmac.new(app_secret.encode(), b"scrm-sidebar-session-v1", hashlib.sha256).digest()


class SessionSigner:
    def __init__(self, key: bytes, ttl_s: int) -> None:
        self._key = key
        self.ttl_s = ttl_s

    def _mac(self, purpose: bytes, payload: bytes) -> str:
        return hmac.new(self._key, purpose + b"|" + payload, hashlib.sha256).hexdigest()

    def issue(self, corp_id: str, userid: str, now: float) -> str:
        payload = f"{corp_id}|{userid}|{int(now) + self.ttl_s}".encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + self._mac(b"session", payload)

    def read(self, cookie: str | None, corp_id: str, now: float) -> GuideSession:
        if not cookie or "." not in cookie:
            raise SessionError("no session")
        encoded, _, mac = cookie.rpartition(".")
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError) as err:
            raise SessionError("malformed session") from err
        if not hmac.compare_digest(mac, self._mac(b"session", payload)):
            raise SessionError("bad session signature")
        corp, userid, expires = payload.decode().split("|")
        if corp != corp_id:
            raise SessionError("session of another corp")
        if int(expires) <= now:
            raise SessionExpired("session expired")
        return GuideSession(corp, userid, int(expires), cookie)

    def csrf_token(self, session: GuideSession) -> str:
        return self._mac(b"csrf", session.raw.encode())

    def check_csrf(self, session: GuideSession, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session))
