"""A faithful fake WeCom (``qyapi.weixin.qq.com``) for tests, the demo and benchmarks.

- ``SimulatorState``: the corp (members, customers, tags, messages…), its clock and faults.
- ``running_simulator()`` / ``serve_simulator()``: the HTTP server (``/cgi-bin/*``, ``/_sim/*``).
- ``CallbackSender``: signed, encrypted callbacks with WeCom's re-send behaviour.
"""

from __future__ import annotations

from simulator.callbacks import CallbackSender, DeliveryReport, UrlVerification
from simulator.errors import ApiError, ErrCode
from simulator.faults import Fault, FaultInjector, RateLimiter
from simulator.server import SimulatorServer, create_simulator_app, running_simulator, serve_simulator
from simulator.state import SimulatorState

__all__ = [
    "ApiError",
    "CallbackSender",
    "DeliveryReport",
    "ErrCode",
    "Fault",
    "FaultInjector",
    "RateLimiter",
    "SimulatorServer",
    "SimulatorState",
    "UrlVerification",
    "create_simulator_app",
    "running_simulator",
    "serve_simulator",
]
