"""The HTTP server around the app: connection limit, header and idle timeouts, graceful stop.

aiohttp bounds header sizes but not time or count: a client that opens connections and sends
nothing (or a header a byte a minute) holds them for the keep-alive timeout, and nothing caps how
many it opens. Here a connection waiting for its request is closed after ``SCRM_BODY_TIMEOUT_S``
(the body itself is bounded by ``bot.httpbody.read_body``), a body left unread after the answer is
drained for at most ``_LINGER_S``, and past ``SCRM_MAX_CONNECTIONS`` a new connection is answered
503 and closed before any parsing. ``scrm serve`` and the tests of these limits use the same code.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import structlog
from aiohttp import web

from bot.appkeys import STOPPING
from config.settings import Settings

__all__ = ["LimitedSite", "run_server", "serving"]

log = structlog.get_logger(__name__)

# After the answer, what the client still sends of an unread body (a 413, a 408, a rejected
# query) is read and dropped this long, so the client sees the answer rather than a reset.
_LINGER_S = 2.0
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 21\r\n\r\ntoo many connections\n"
)


class _Refused(asyncio.Protocol):
    """A connection over the limit: one fixed answer, then closed; nothing it sends is parsed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_REFUSAL)
        transport.close()


class LimitedSite(web.TCPSite):
    """A TCP site that serves at most ``max_connections`` connections at once."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *, max_connections: int) -> None:
        super().__init__(runner, host, port)
        self._max_connections = max_connections
        self._last_refusal_log = 0.0

    def _protocol(self) -> Callable[[], asyncio.BaseProtocol]:
        server = self._runner.server
        assert server is not None

        def accept() -> asyncio.BaseProtocol:
            if len(server.connections) < self._max_connections:
                return server()
            now = time.monotonic()
            if now - self._last_refusal_log > 60:  # a flood is one line a minute, not one a connection
                self._last_refusal_log = now
                log.warning("connection_limit_reached", max_connections=self._max_connections)
            return _Refused()

        return accept

    async def start(self) -> None:
        # TCPSite.start with our protocol factory in place of the runner's server.
        await super(web.TCPSite, self).start()  # BaseSite.start: registers the site with the runner
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol(), self._host, self._port, backlog=self._backlog)
        self._bound_port = self._server.sockets[0].getsockname()[1] if self._server.sockets else self._port


@asynccontextmanager
async def serving(app: web.Application, settings: Settings, host: str, port: int) -> AsyncIterator[LimitedSite]:
    """Serve ``app`` on ``host:port`` with the limits of ``settings`` until the block exits."""
    runner = web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=settings.scrm_shutdown_grace_s + 5,
        # The keep-alive timer also runs while a connection waits for its (first) request's
        # headers: an idle or crawling client is dropped after it.
        keepalive_timeout=settings.scrm_body_timeout_s,
        lingering_time=_LINGER_S,
    )
    await runner.setup()
    try:
        site = LimitedSite(runner, host, port, max_connections=settings.scrm_max_connections)
        await site.start()
        yield site
    finally:
        await runner.cleanup()


async def _close_while_stopping(request: web.Request, response: web.StreamResponse) -> None:
    """While draining, every answer closes its connection: the proxy opens its next one elsewhere."""
    if request.app[STOPPING].is_set():
        response.force_close()


def run_server(app: web.Application, settings: Settings, host: str, port: int, *, drain: bool = True) -> None:
    """``scrm serve``: serve until SIGINT or SIGTERM, then stop gracefully.

    The stop, in order: drain (``/healthz`` 503, connections closed after each answer, for
    ``SCRM_DRAIN_S``), stop accepting, finish the requests in flight (``SCRM_SHUTDOWN_GRACE_S``), run
    the app's cleanup (a worker finishes or releases the events it holds), exit 0.
    """
    stopping = app[STOPPING]
    app.on_response_prepare.append(_close_while_stopping)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        async with serving(app, settings, host, port) as site:
            log.info("serving", url=site.name, max_connections=settings.scrm_max_connections)
            await stopping.wait()
            log.info("stopping", drain_s=settings.scrm_drain_s, grace_s=settings.scrm_shutdown_grace_s)
            if drain and settings.scrm_drain_s:  # a worker-only process has no traffic to drain
                await asyncio.sleep(settings.scrm_drain_s)
        log.info("stopped")

    asyncio.run(main())
