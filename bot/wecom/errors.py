"""WeCom errcodes and the exceptions they become (PROTOCOL.md section 3, "Error codes")."""

from __future__ import annotations

from enum import IntEnum

from bot.errors import PermanentFailure

__all__ = [
    "ErrCode",
    "WeComError",
    "WeComTokenError",
    "WeComRetryableError",
    "WeComRateLimited",
    "WeComUnavailable",
    "WeComConfigError",
    "WeComPermanentError",
    "NotExternalContact",
    "WelcomeCodeInvalid",
    "error_for",
]


class ErrCode(IntEnum):
    OK = 0
    SYSTEM_BUSY = -1
    INVALID_SECRET = 40001
    INVALID_CORP_ID = 40013
    INVALID_TOKEN = 40014
    MISSING_TOKEN = 41001
    WELCOME_CODE_INVALID = 41051
    TOKEN_EXPIRED = 42001
    FREQUENCY_LIMIT = 45009
    CONCURRENCY_LIMIT = 45033
    IP_NOT_ALLOWED = 60020
    NOT_EXTERNAL_CONTACT = 84061


class WeComError(Exception):
    """WeCom answered with a non-zero errcode (or could not be reached, errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str, api: str = "") -> None:
        super().__init__(f"{api}: errcode {errcode}: {errmsg}" if api else f"errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.api = api


class WeComTokenError(WeComError):
    """The access token was refused (40014 / 41001 / 42001): refresh once, retry."""


class WeComRetryableError(WeComError):
    """WeCom is busy (-1): back off and retry."""


class WeComRateLimited(WeComRetryableError):
    """45009 / 45033: back off (seconds to a minute) and retry."""


class WeComUnavailable(WeComRetryableError):
    """HTTP 5xx, timeout or connection failure, after the client's own retries."""


class WeComPermanentError(WeComError, PermanentFailure):
    """A request or permission error: retrying the same call cannot succeed."""


class WeComConfigError(WeComPermanentError):
    """Wrong secret / corp id, or our IP is not trusted: an operator must fix the configuration."""


class NotExternalContact(WeComPermanentError):
    """84061: that customer is not (or no longer) an external contact of that member."""


class WelcomeCodeInvalid(WeComPermanentError):
    """41051 and friends on send_welcome_msg: the code was used, expired, or the chat already began."""


TOKEN_ERRCODES = frozenset({ErrCode.INVALID_TOKEN, ErrCode.MISSING_TOKEN, ErrCode.TOKEN_EXPIRED})
RETRYABLE_ERRCODES = frozenset({ErrCode.SYSTEM_BUSY, ErrCode.FREQUENCY_LIMIT, ErrCode.CONCURRENCY_LIMIT})

_BY_CODE: dict[int, type[WeComError]] = {
    ErrCode.SYSTEM_BUSY: WeComRetryableError,
    ErrCode.FREQUENCY_LIMIT: WeComRateLimited,
    ErrCode.CONCURRENCY_LIMIT: WeComRateLimited,
    ErrCode.INVALID_TOKEN: WeComTokenError,
    ErrCode.MISSING_TOKEN: WeComTokenError,
    ErrCode.TOKEN_EXPIRED: WeComTokenError,
    ErrCode.INVALID_SECRET: WeComConfigError,
    ErrCode.INVALID_CORP_ID: WeComConfigError,
    ErrCode.IP_NOT_ALLOWED: WeComConfigError,
    ErrCode.NOT_EXTERNAL_CONTACT: NotExternalContact,
    ErrCode.WELCOME_CODE_INVALID: WelcomeCodeInvalid,
}


def error_for(errcode: int, errmsg: str, api: str = "") -> WeComError:
    """The typed exception for an errcode; unknown non-zero codes are permanent (no blind retry)."""
    if api.endswith("send_welcome_msg") and errcode not in TOKEN_ERRCODES | RETRYABLE_ERRCODES:
        return WelcomeCodeInvalid(errcode, errmsg, api)
    return _BY_CODE.get(errcode, WeComPermanentError)(errcode, errmsg, api)
