"""The app as separate ``scrm`` processes against the in-process WeCom simulator: what the welcome
and chaos benchmarks share (credentials, the seeded corp, start / wait / stop, ``scrm migrate``)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.pgdb import BenchError
from bench.private import HOST, ServiceError, free_port
from bot.crypto import CallbackCrypto
from simulator.callbacks import CallbackSender
from simulator.state import SimulatorState

__all__ = ["AES_KEY", "AGENT_ID", "CORP_ID", "HOST", "ROOT", "SECRET", "TOKEN", "callback_sender", "migrate",
           "new_corp", "run_drill", "start_app", "stop_app", "wait_healthy"]

ROOT = Path(__file__).resolve().parent.parent
# The benches' own made-up app credentials (Tencent's public sample ones are refused by `scrm migrate`,
# which runs before a simulator URL is set).
CORP_ID = "ww1436e0e65a779aee"
AGENT_ID = 1000002
TOKEN = "BenchTokenQ7mZ2xW9rT4kL8vN3pY6sD"
AES_KEY = "BenchAesKey0q8Zr3Wm5Tx7Kp2Lv9Ns4Yd6Fh1Gj3Hk"
SECRET = "bench-secret-Vq3Zm8Rt2Wx6Kp9Ln4Ys7Df"  # the simulator's made-up app secret


def new_corp() -> tuple[SimulatorState, list[str], list[str]]:
    """The simulated corp holding config/org.yaml's members: (state, guide userids, channel states)."""
    state = SimulatorState(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID, callback_token=TOKEN,
                           encoding_aes_key=AES_KEY)
    org = yaml.safe_load((ROOT / "config" / "org.yaml").read_text())
    for member in org.get("members", []):
        state.add_member(member["userid"], member.get("name"), store=member.get("store", ""))
    guides = [m["userid"] for m in org.get("members", []) if m.get("role", "guide") == "guide"]
    channels = [c["state"] for c in org.get("channels", [])]
    if not guides or not channels:
        raise BenchError("config/org.yaml has no guides or no channels to scan")
    return state, guides, channels


def callback_sender(state: SimulatorState, url: str, http: aiohttp.ClientSession, **options: Any) -> CallbackSender:
    """WeCom delivering callbacks to the app at ``url`` (signed and encrypted, re-sent on no answer)."""
    return CallbackSender(CallbackCrypto(TOKEN, AES_KEY, CORP_ID), f"{url}/wecom/callback", http, **options)


def _scrm() -> Path:
    scrm = ROOT / ".venv" / "bin" / "scrm"
    if not scrm.exists():
        raise BenchError(f"{scrm} not found: run `make install` first")
    return scrm


def _env(db_url: str, redis_url: str, extra_env: dict[str, str]) -> dict[str, str]:
    return dict(os.environ) | {
        "WECOM_CORP_ID": CORP_ID,
        "WECOM_AGENT_ID": str(AGENT_ID),
        "WECOM_SECRET": SECRET,
        "WECOM_TOKEN": TOKEN,
        "WECOM_AES_KEY": AES_KEY,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
    } | extra_env


def migrate(workdir: Path, db_url: str, redis_url: str) -> None:
    result = subprocess.run([str(_scrm()), "migrate"], env=_env(db_url, redis_url, {}), cwd=workdir,
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise BenchError(f"scrm migrate failed: {result.stderr[-800:]}")


def start_app(workdir: Path, sim_url: str, db_url: str, redis_url: str, prefix: str,
              extra_env: dict[str, str], app_src: Path | None,
              role: str = "all", port: int | None = None) -> tuple[subprocess.Popen[bytes], int, Path]:
    """``scrm serve --role role`` on ``port`` (a free one by default), its output in a log file in ``workdir``."""
    scrm = _scrm()
    port = port or free_port()
    env = _env(db_url, redis_url, {"WECOM_API_BASE": sim_url, "SCRM_REDIS_PREFIX": prefix, "LOG_LEVEL": "WARNING"}
               | extra_env)
    if app_src is not None:
        env["PYTHONPATH"] = str(app_src)
    log_path = workdir / f"app-{role}-{port}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen([str(scrm), "serve", "--role", role, "--host", HOST, "--port", str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    return proc, port, log_path


async def wait_healthy(proc: subprocess.Popen[bytes], url: str, log_path: Path, http: aiohttp.ClientSession,
                       within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = await asyncio.to_thread(log_path.read_text, errors="replace")
            raise BenchError(f"the app exited ({proc.returncode}):\n{log[-3000:]}")
        try:
            async with http.get(f"{url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as response:
                if response.status == 200:
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.2)
    raise BenchError(f"the app did not become healthy in {within:g} s")


def stop_app(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_drill(name: str, run: Callable[[Any, Path], Awaitable[int]], args: Any) -> int:
    """A drill's ``main``: ``run(args, tmp)`` in a temporary folder, stopped after ``args.max_seconds``;
    a run that could not be made (a service, the app, the time) is one line on stderr and exit 2."""
    with tempfile.TemporaryDirectory(prefix=f"scrm-{name}-") as tmp:
        try:
            return asyncio.run(asyncio.wait_for(run(args, Path(tmp)), timeout=args.max_seconds))
        except (BenchError, ServiceError) as err:
            print(f"{run.__module__}: {err}", file=sys.stderr)
            return 2
        except TimeoutError:
            print(f"{run.__module__}: the run took longer than {args.max_seconds:g} s; stopped", file=sys.stderr)
            return 2
