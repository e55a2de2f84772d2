"""Handing customers over: ``transfer_customer`` / ``transfer_result``, serving and resigned variants.

A transfer waits (status 2) until ``SimulatorState.settle_transfers`` resolves it: refused at once
if the state was told the customer refuses, otherwise taken over 24 h later on the sim clock.
"""

from __future__ import annotations

from typing import Any

from simulator.apis.base import (
    ApiRequest,
    Endpoint,
    decode_cursor,
    optional_str,
    page,
    require_member,
    require_str,
    str_list,
)
from simulator.errors import ApiError, ErrCode
from simulator.models import MEMBER_RESIGNED, CustomerTransfer

__all__ = ["ENDPOINTS"]

_MAX_CUSTOMERS = 100
_RESULT_PAGE = 1000


def _parties(request: ApiRequest) -> tuple[str, str]:
    handover = require_str(request.body, "handover_userid", ErrCode.MISSING_USERID)
    takeover = require_str(request.body, "takeover_userid", ErrCode.MISSING_USERID)
    require_member(request.state, handover)
    require_member(request.state, takeover)
    if handover == takeover:
        raise ApiError(ErrCode.INVALID_PARAMETER, "handover and takeover are the same member")
    return handover, takeover


def _transfer(request: ApiRequest, *, resigned: bool) -> dict[str, Any]:
    state = request.state
    handover, takeover = _parties(request)
    if resigned and state.members[handover].status != MEMBER_RESIGNED:
        raise ApiError(ErrCode.HANDOVER_NOT_RESIGNED, handover)
    external_userids = str_list(
        request.body, "external_userid", required_errcode=ErrCode.INVALID_EXTERNAL_USERID, max_items=_MAX_CUSTOMERS
    )
    success_msg = "" if resigned else optional_str(request.body, "transfer_success_msg")
    waiting = {t.external_userid for t in state.transfers if t.status == 2}
    results = []
    for external_userid in external_userids:
        if external_userid not in state.contacts:
            errcode = ErrCode.INVALID_EXTERNAL_USERID
        elif state.relation(handover, external_userid) is None:
            errcode = ErrCode.NOT_EXTERNAL_CONTACT
        elif external_userid in waiting:
            errcode = ErrCode.TRANSFER_IN_PROGRESS
        else:
            errcode = ErrCode.OK
            waiting.add(external_userid)
            state.transfers.append(
                CustomerTransfer(
                    handover, takeover, external_userid, request.now, resigned, transfer_success_msg=success_msg
                )
            )
        results.append({"external_userid": external_userid, "errcode": int(errcode)})
    return {"customer": results}


def transfer_customer(request: ApiRequest) -> dict[str, Any]:
    return _transfer(request, resigned=False)


def resigned_transfer_customer(request: ApiRequest) -> dict[str, Any]:
    return _transfer(request, resigned=True)


def _result(request: ApiRequest, *, resigned: bool) -> dict[str, Any]:
    state = request.state
    handover, takeover = _parties(request)
    # Reading results lets WeCom's side move on; events that produces wait in the outbox.
    state.outbox.extend(state.settle_transfers())
    transfers = [
        t
        for t in state.transfers
        if t.handover_userid == handover and t.takeover_userid == takeover and t.resigned == resigned
    ]
    offset = decode_cursor(request.body)
    end, next_cursor = page(len(transfers), offset, _RESULT_PAGE)
    return {
        "customer": [
            {"external_userid": t.external_userid, "status": t.status, "takeover_time": t.takeover_time}
            for t in transfers[offset:end]
        ],
        "next_cursor": next_cursor,
    }


def transfer_result(request: ApiRequest) -> dict[str, Any]:
    return _result(request, resigned=False)


def resigned_transfer_result(request: ApiRequest) -> dict[str, Any]:
    return _result(request, resigned=True)


ENDPOINTS = (
    Endpoint("externalcontact/transfer_customer", "POST", transfer_customer),
    Endpoint("externalcontact/resigned/transfer_customer", "POST", resigned_transfer_customer),
    Endpoint("externalcontact/transfer_result", "POST", transfer_result),
    Endpoint("externalcontact/resigned/transfer_result", "POST", resigned_transfer_result),
)
