"""The guide's session: a signed cookie bound to (corp, userid), short-lived, HttpOnly.

The cookie is ``base64url(corp|userid|expires).key_id.hex(hmac_sha256)``; nothing on the server
to store or clean. The key id names which of the keys signed it, so a new key can be brought in
while the old one still verifies the sessions it signed (SCRM_SIDEBAR_OLD_SECRETS). The CSRF
token a page sends with each write is derived from the cookie, so a page of another site (which
cannot read our page) cannot forge it. The OAuth state cookie is sealed the same way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

__all__ = ["COOKIE", "GuideSession", "SessionError", "SessionExpired", "SessionSigner", "derive_keys", "key_id"]

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


def derive_keys(explicit: str, old: str, app_secret: str) -> list[bytes]:
    """The signing keys, current first: SCRM_SIDEBAR_SECRET (or one derived from the app secret,
    never the secret itself), then SCRM_SIDEBAR_OLD_SECRETS, which still verify until their
    sessions expire."""
    current = explicit.encode() if explicit else hmac.new(
        app_secret.encode(), b"scrm-sidebar-session-v1", hashlib.sha256).digest()
    return [current, *(part.strip().encode() for part in old.split(",") if part.strip())]


def key_id(key: bytes) -> str:
    """A short public name of a key (a digest, never the key): which one signed a cookie."""
    return hashlib.sha256(b"scrm-sidebar-key-id|" + key).hexdigest()[:8]


class SessionSigner:
    """Signs with the first key; verifies with whichever key the cookie's key id names."""

    def __init__(self, keys: list[bytes], ttl_s: int) -> None:
        if not keys:
            raise ValueError("at least one key")
        self._keys = {key_id(key): key for key in reversed(keys)}
        self._current = key_id(keys[0])
        self.ttl_s = ttl_s

    def _mac(self, purpose: bytes, payload: bytes, kid: str | None = None) -> str:
        return hmac.new(self._keys[kid or self._current], purpose + b"|" + payload, hashlib.sha256).hexdigest()

    def _seal(self, purpose: bytes, payload: bytes) -> str:
        encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{encoded}.{self._current}.{self._mac(purpose, payload)}"

    def _open(self, purpose: bytes, sealed: str | None) -> bytes:
        """The payload of a value we sealed for ``purpose``; SessionError for anything else (any bytes)."""
        parts = (sealed or "").split(".")
        if len(parts) != 3 or not sealed or not sealed.isascii():
            raise SessionError("no session")
        encoded, kid, mac = parts
        if kid not in self._keys:
            raise SessionError("signed with a key we no longer have")
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError) as err:
            raise SessionError("malformed session") from err
        if not hmac.compare_digest(mac.encode(), self._mac(purpose, payload, kid).encode()):
            raise SessionError("bad session signature")
        return payload

    def issue(self, corp_id: str, userid: str, now: float) -> str:
        return self._seal(b"session", f"{corp_id}|{userid}|{int(now) + self.ttl_s}".encode())

    def read(self, cookie: str | None, corp_id: str, now: float) -> GuideSession:
        payload = self._open(b"session", cookie)
        try:
            corp, userid, expires = payload.decode().split("|")
            expires_at = int(expires)
        except ValueError as err:  # we signed it, so only an old format gets here
            raise SessionError("malformed session") from err
        if corp != corp_id:
            raise SessionError("session of another corp")
        if expires_at <= now:
            raise SessionExpired("session expired")
        return GuideSession(corp, userid, expires_at, cookie or "")

    def seal_state(self, state: str, next_target: str, expires_at: float) -> str:
        """The OAuth ``state`` and the page to return to, for the browser's short cookie."""
        return self._seal(b"oauth-state", f"{state}|{int(expires_at)}|{next_target}".encode())

    def open_state(self, cookie: str | None, now: float) -> tuple[str, str]:
        """(state, page to return to) of a state cookie we sealed and that has not expired."""
        payload = self._open(b"oauth-state", cookie)
        try:
            state, expires, next_target = payload.decode().split("|", 2)
            expires_at = int(expires)
        except ValueError as err:
            raise SessionError("malformed state") from err
        if expires_at <= now:
            raise SessionExpired("state expired")
        return state, next_target

    def csrf_token(self, session: GuideSession) -> str:
        return self._mac(b"csrf", session.raw.encode())

    def check_csrf(self, session: GuideSession, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token).encode(), self.csrf_token(session).encode())
