"""WeCom's 获客助手 (customer_acquisition/*) as this feature calls it, through ``deps.wecom``.

``create_link`` → ``{link: {link_id, link_name, url, create_time}}``; ``get`` → the link, its ``range``
and ``skip_verify``; ``update_link``, ``delete_link``; ``customer_acquisition_quota`` → ``total``,
``balance``. A quota refusal is raised as :class:`AcquisitionQuotaExceeded`, named for the operator.

The errcodes below are the ones the simulator plays for the two quota refusals; WeCom's documentation
of 获客助手 lists its own, which must be checked before relying on the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

from bot.deps import Deps
from bot.wecom.errors import WeComPermanentError

__all__ = ["AcquisitionErr", "AcquisitionQuotaExceeded", "create_link", "delete_link", "get_link", "quota",
           "update_link"]


class AcquisitionErr(IntEnum):
    LINK_LIMIT = 41068  # the corp has as many links as it may make
    NO_QUOTA = 41069  # no acquisition quota left (the paid 获客额度 is spent)
    NO_LINK = 41070  # no such link (deleted, or another app's)


class AcquisitionQuotaExceeded(Exception):
    """WeCom refused a link for a quota: which one, in words an operator acts on."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        what = "link count limit reached" if errcode == AcquisitionErr.LINK_LIMIT else "acquisition quota used up"
        super().__init__(f"{what} (errcode {errcode}: {errmsg})")
        self.errcode = errcode


def _quota_named(err: WeComPermanentError) -> Exception:
    if err.errcode in (AcquisitionErr.LINK_LIMIT, AcquisitionErr.NO_QUOTA):
        return AcquisitionQuotaExceeded(int(err.errcode or 0), err.errmsg)
    return err


def _range(users: Sequence[str]) -> dict[str, Any]:
    return {"user_list": list(users), "department_list": []}


async def create_link(deps: Deps, name: str, users: Sequence[str]) -> dict[str, Any]:
    try:
        answer = await deps.wecom.call("externalcontact/customer_acquisition/create_link",
                                       body={"link_name": name, "range": _range(users), "skip_verify": True})
    except WeComPermanentError as err:
        raise _quota_named(err) from err
    link: dict[str, Any] = answer["link"]
    return link


async def get_link(deps: Deps, link_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = await deps.wecom.call("externalcontact/customer_acquisition/get",
                                                   body={"link_id": link_id})
    return answer


async def update_link(deps: Deps, link_id: str, name: str, users: Sequence[str]) -> None:
    await deps.wecom.call("externalcontact/customer_acquisition/update_link",
                          body={"link_id": link_id, "link_name": name, "range": _range(users), "skip_verify": True})


async def delete_link(deps: Deps, link_id: str) -> None:
    await deps.wecom.call("externalcontact/customer_acquisition/delete_link", body={"link_id": link_id})


async def quota(deps: Deps) -> dict[str, Any]:
    answer: dict[str, Any] = await deps.wecom.call("externalcontact/customer_acquisition_quota", method="GET")
    return answer
