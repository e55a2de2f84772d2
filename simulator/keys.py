"""Everything the simulator app holds, as typed AppKeys (no module-level state)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from simulator.apis import Endpoint
from simulator.state import SimulatorState

__all__ = ["CALLBACK_KEY", "ENDPOINTS_KEY", "SESSION_KEY", "STATE_KEY", "CallbackTarget"]


@dataclass
class CallbackTarget:
    """Where ``/_sim/events/*`` deliver callbacks; settable at run time (``POST /_sim/callback``)."""

    url: str | None = None
    timeout: float = 5.0
    max_resends: int = 3


STATE_KEY = web.AppKey("simulator_state", SimulatorState)
ENDPOINTS_KEY = web.AppKey("simulator_endpoints", Mapping[str, Endpoint])
CALLBACK_KEY = web.AppKey("simulator_callback_target", CallbackTarget)
SESSION_KEY = web.AppKey("simulator_client_session", aiohttp.ClientSession)
