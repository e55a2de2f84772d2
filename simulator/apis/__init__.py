"""The simulated ``/cgi-bin/`` APIs, one module per family; ``ENDPOINTS`` lists them all."""

from __future__ import annotations

from typing import Final

from simulator.apis import (
    acquisition,
    addressbook,
    contacts,
    contactways,
    groupchat,
    groupmsg,
    groupways,
    jsapi,
    messages,
    moments,
    oauth,
    outreach,
    tags,
    token,
    transfer,
    webhook,
)
from simulator.apis.base import ApiRequest, Endpoint, Handler

__all__ = ["ENDPOINTS", "ApiRequest", "Endpoint", "Handler"]

ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    *token.ENDPOINTS,
    *contacts.ENDPOINTS,
    *tags.ENDPOINTS,
    *outreach.ENDPOINTS,
    *transfer.ENDPOINTS,
    *groupchat.ENDPOINTS,
    *groupways.ENDPOINTS,
    *messages.ENDPOINTS,
    *webhook.ENDPOINTS,
    *addressbook.ENDPOINTS,
    *contactways.ENDPOINTS,
    *oauth.ENDPOINTS,
    *jsapi.ENDPOINTS,
    *acquisition.ENDPOINTS,

    *groupmsg.ENDPOINTS,
    *moments.ENDPOINTS,
)
