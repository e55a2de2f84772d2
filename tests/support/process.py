"""``scrm serve`` as a real process: started, waited for on /healthz, stopped by a signal."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

__all__ = ["ScrmProcess", "free_port", "scrm_process"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ScrmProcess:
    process: asyncio.subprocess.Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def output(self) -> str:
        assert self.process.stdout is not None
        return (await self.process.stdout.read()).decode(errors="replace")

    async def stop(self, within: float = 30) -> int:
        """SIGTERM, then the exit code (within ``within`` seconds)."""
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), within)


@asynccontextmanager
async def scrm_process(
    *args: str, env: Mapping[str, str], cwd: Path, python_flags: tuple[str, ...] = (), within: float = 30
) -> AsyncIterator[ScrmProcess]:
    """``python -m bot serve --port <free> *args`` with ``env`` only; yields once /healthz answers 200."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, *python_flags, "-m", "bot", "serve", "--port", str(port), *args, cwd=cwd, env=dict(env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    running = ScrmProcess(process, port)
    try:
        status = 0
        async with aiohttp.ClientSession() as http:
            for _ in range(int(within * 10)):
                if process.returncode is not None:
                    break
                try:
                    async with http.get(f"{running.url}/healthz") as response:
                        status = response.status
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
        if status != 200:
            if process.returncode is None:
                process.terminate()
            pytest.fail(f"scrm serve did not become healthy (status {status}):\n{(await running.output())[-3000:]}")
        yield running
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
