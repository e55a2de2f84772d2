"""The simulated ``/cgi-bin/`` APIs, one module per family; ``ENDPOINTS`` lists them all."""

from __future__ import annotations

from typing import Final

from simulator.apis import (
    addressbook,
    contacts,
    contactways,
    groupchat,
    groupmsgs,
    groupways,
    jsapi,
    messages,
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
    *groupmsgs.ENDPOINTS,
    *messages.ENDPOINTS,
    *webhook.ENDPOINTS,
    *addressbook.ENDPOINTS,
    *contactways.ENDPOINTS,
    *oauth.ENDPOINTS,
    *jsapi.ENDPOINTS,
)
