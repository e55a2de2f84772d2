"""The WeCom errcodes the simulator answers, and the exception its API handlers raise."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ApiError", "ErrCode", "errmsg_for"]


class ErrCode(IntEnum):
    """WeCom's global errcodes (developer.work.weixin.qq.com/document/path/90313) that we reproduce."""

    SYSTEM_BUSY = -1
    OK = 0
    INVALID_SECRET = 40001
    INVALID_MEDIA_FILE_TYPE = 40004
    INVALID_MEDIA_TYPE_PARAM = 40005
    INVALID_FILE_SIZE = 40006
    INVALID_USERID = 40003
    INVALID_MEDIA_TYPE = 40004
    INVALID_FILE_TYPE = 40005
    INVALID_MEDIA_ID = 40007
    INVALID_MSGTYPE = 40008
    INVALID_IMAGE_SIZE = 40009
    INVALID_CORPID = 40013
    INVALID_ACCESS_TOKEN = 40014
    INVALID_CHAT_ID = 40050
    INVALID_AGENTID = 40056
    INVALID_PARAMETER = 40058
    INVALID_TAG_ID = 40068
    DUPLICATE_TAG_NAME = 40071
    INVALID_TAG_NAME_LENGTH = 40072
    INVALID_CODE = 40029
    INVALID_EXTERNAL_USERID = 40096
    HANDOVER_NOT_RESIGNED = 40097
    TRANSFER_IN_PROGRESS = 40100
    MISSING_ACCESS_TOKEN = 41001
    MISSING_CORPID = 41002
    MISSING_SECRET = 41004
    MISSING_MEDIA = 41005
    MISSING_USERID = 41009
    MISSING_AGENTID = 41011
    INVALID_WELCOME_CODE = 41051
    ACCESS_TOKEN_EXPIRED = 42001
    EMPTY_POST_DATA = 44002
    EMPTY_CONTENT = 44004
    CONTENT_TOO_LARGE = 45002
    TOO_MANY_ARTICLES = 45008
    FREQUENCY_LIMIT = 45009
    CONCURRENCY_LIMIT = 45033
    DATA_FORMAT_ERROR = 47001
    API_UNAUTHORIZED = 48002
    IP_NOT_ALLOWED = 60020
    USERID_NOT_FOUND = 60111
    INVALID_PARTY_ID = 60123
    ALL_RECIPIENTS_INVALID = 81013
    STATISTIC_RANGE_TOO_WIDE = 81017
    NOT_EXTERNAL_CONTACT = 84061
    INVALID_TICKET_TYPE = 91040
    INVALID_WEBHOOK_URL = 93000


_MESSAGES: dict[int, str] = {
    ErrCode.SYSTEM_BUSY: "system busy",
    ErrCode.OK: "ok",
    ErrCode.INVALID_SECRET: "invalid credential",
    ErrCode.INVALID_MEDIA_FILE_TYPE: "invalid media file type",
    ErrCode.INVALID_MEDIA_TYPE_PARAM: "invalid media type",
    ErrCode.INVALID_FILE_SIZE: "invalid file size",
    ErrCode.INVALID_USERID: "invalid userid",
    ErrCode.INVALID_MEDIA_TYPE: "invalid media type",
    ErrCode.INVALID_FILE_TYPE: "invalid file type",
    ErrCode.INVALID_MEDIA_ID: "invalid media_id",
    ErrCode.INVALID_MSGTYPE: "invalid message type",
    ErrCode.INVALID_IMAGE_SIZE: "invalid image size",
    ErrCode.INVALID_CORPID: "invalid corpid",
    ErrCode.INVALID_ACCESS_TOKEN: "invalid access_token",
    ErrCode.INVALID_CHAT_ID: "chatid not found",
    ErrCode.INVALID_AGENTID: "invalid agentid",
    ErrCode.INVALID_PARAMETER: "invalid Request Parameter",
    ErrCode.INVALID_TAG_ID: "invalid tagid",
    ErrCode.DUPLICATE_TAG_NAME: "invalid tagname, tag name exists",
    ErrCode.INVALID_TAG_NAME_LENGTH: "invalid tagname size",
    ErrCode.INVALID_CODE: "invalid code",
    ErrCode.INVALID_EXTERNAL_USERID: "invalid external userid",
    ErrCode.HANDOVER_NOT_RESIGNED: "handover user has not resigned",
    ErrCode.TRANSFER_IN_PROGRESS: "external contact is already being transferred",
    ErrCode.MISSING_ACCESS_TOKEN: "access_token missing",
    ErrCode.MISSING_CORPID: "corpid missing",
    ErrCode.MISSING_SECRET: "corpsecret missing",
    ErrCode.MISSING_MEDIA: "media data missing",
    ErrCode.MISSING_USERID: "userid missing",
    ErrCode.MISSING_AGENTID: "agentid missing",
    ErrCode.INVALID_WELCOME_CODE: "invalid welcome_code",
    ErrCode.ACCESS_TOKEN_EXPIRED: "access_token expired",
    ErrCode.EMPTY_POST_DATA: "empty post data",
    ErrCode.EMPTY_CONTENT: "empty content",
    ErrCode.CONTENT_TOO_LARGE: "message content size exceed limit",
    ErrCode.TOO_MANY_ARTICLES: "article count exceed limit",
    ErrCode.FREQUENCY_LIMIT: "api freq out of limit",
    ErrCode.CONCURRENCY_LIMIT: "api concurrent out of limit",
    ErrCode.DATA_FORMAT_ERROR: "data format error",
    ErrCode.API_UNAUTHORIZED: "api forbidden",
    ErrCode.IP_NOT_ALLOWED: "not allow to access from your ip",
    ErrCode.USERID_NOT_FOUND: "userid not found",
    ErrCode.INVALID_PARTY_ID: "invalid party id",
    ErrCode.ALL_RECIPIENTS_INVALID: "all touser invalid",
    ErrCode.STATISTIC_RANGE_TOO_WIDE: "the visible range is too wide, filter by owner",
    ErrCode.NOT_EXTERNAL_CONTACT: "not external contact",
    ErrCode.INVALID_TICKET_TYPE: "invalid ticket type",
    ErrCode.INVALID_WEBHOOK_URL: "invalid webhook url",
}


def errmsg_for(errcode: int, detail: str = "") -> str:
    """An errmsg in WeCom's shape: the message, an optional detail, and the devtool link."""
    if errcode == ErrCode.OK:
        return "ok"
    base = _MESSAGES.get(errcode, "error")
    text = f"{base}: {detail}" if detail else base
    return f"{text}, more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"


class ApiError(Exception):
    """Raised by a simulated API to answer ``{"errcode": errcode, "errmsg": ...}`` (HTTP 200)."""

    def __init__(self, errcode: int, detail: str = "", **extra: object) -> None:
        super().__init__(f"{errcode}: {detail}")
        self.errcode = errcode
        self.errmsg = errmsg_for(errcode, detail)
        self.extra = extra  # fields WeCom still returns with some errors (e.g. invaliduser)
