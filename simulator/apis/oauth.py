"""``auth/getuserinfo``: an OAuth code (from ``/connect/oauth2/authorize``) → the member's userid.

Codes are good once and for 5 minutes; a reused, expired or unknown code is 40029 ``invalid code``.
The authorize redirect itself is a browser page, in ``simulator/jsbridge.py``.
"""

from __future__ import annotations

from typing import Any

from simulator.apis.base import ApiRequest, Endpoint, require_str
from simulator.errors import ApiError, ErrCode

__all__ = ["ENDPOINTS"]


def get_user_info(request: ApiRequest) -> dict[str, Any]:
    code = require_str(request.query, "code", ErrCode.INVALID_CODE)
    issued = request.state.browser.codes.get(code)
    if issued is None or issued.used or request.now >= issued.expires_at:
        raise ApiError(ErrCode.INVALID_CODE, "invalid code")
    issued.used = True
    if issued.userid in request.state.members:
        return {"userid": issued.userid}
    # Not a member of the corp (a WeChat user on the page): WeCom answers with an openid.
    return {"openid": f"o{issued.userid}"}


ENDPOINTS = (Endpoint("auth/getuserinfo", "GET", get_user_info),)
