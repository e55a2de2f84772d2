"""``gettoken``: access tokens per (corp, secret), valid ``token_ttl`` seconds on the sim clock."""

from __future__ import annotations

from typing import Any

from simulator.apis.base import ApiRequest, Endpoint, require_str
from simulator.errors import ApiError, ErrCode

__all__ = ["ENDPOINTS"]


def get_token(request: ApiRequest) -> dict[str, Any]:
    state = request.state
    corp_id = require_str(request.query, "corpid", ErrCode.MISSING_CORPID)
    secret = require_str(request.query, "corpsecret", ErrCode.MISSING_SECRET)
    if corp_id != state.corp_id:
        raise ApiError(ErrCode.INVALID_CORPID, corp_id)
    if secret != state.secret:
        raise ApiError(ErrCode.INVALID_SECRET)
    token = state.issue_token()
    return {"access_token": token.token, "expires_in": state.token_ttl}


ENDPOINTS = (Endpoint("gettoken", "GET", get_token, needs_token=False),)
