"""Private PostgreSQL and Redis servers for benches that kill or restart them.

Each lives in its own temporary directory, on its own loopback port, and is removed at the end:
the shared servers on 5432 / 6379 (other people's tests run there) are never touched.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["PrivatePostgres", "PrivateRedis", "ServiceError", "free_port", "port_or_free"]

HOST = "127.0.0.1"


class ServiceError(Exception):
    """A private server could not be started (a missing binary, a port in use …)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def port_or_free(port: int | None) -> int:
    """``port`` when nothing listens there (e.g. 55432), else any free one: never share a server."""
    if port:
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                return free_port()
            return port
    return free_port()


def _wait_port(port: int, within_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"the server exited ({proc.returncode}) before listening on {port}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise ServiceError(f"nothing listens on {HOST}:{port} after {within_s:g} s")


class PrivateRedis:
    """``redis-server`` with AOF (``appendfsync`` as asked) in ``workdir``; kill -9 and restart keep the data."""

    def __init__(
        self, workdir: Path, *, appendfsync: str = "always", port: int | None = None, preload: Path | None = None
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server is not on the PATH (apt-get install redis-server)")
        self.binary = binary
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port_or_free(port)
        self.appendfsync = appendfsync
        self.preload = preload  # LD_PRELOAD for the server (bench/crashsim.c: a kill loses what a host crash would)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", HOST, "--dir", str(self.dir), "--save", "",
             "--appendonly", "yes", "--appendfsync", self.appendfsync, "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            env=dict(os.environ) | ({"LD_PRELOAD": str(self.preload)} if self.preload else {}),
        )
        _wait_port(self.port, 30, self.proc)
        self._wait_loaded(60)

    def _wait_loaded(self, within_s: float) -> None:
        """Redis listens while it replays its AOF, answering -LOADING: wait for +PONG."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            with socket.create_connection((HOST, self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise ServiceError(f"redis-server on {self.port} still loading after {within_s:g} s")

    def kill(self) -> None:
        """SIGKILL: what a crash or an OOM kill does (no shutdown, no final fsync)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart_after_kill(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class PrivatePostgres:
    """A PostgreSQL cluster made by ``initdb`` in ``workdir`` (as the postgres user when run as root)."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found and shutil.which("pg_ctl") is None:
            raise ServiceError("pg_ctl not found (/usr/lib/postgresql/*/bin): install PostgreSQL")
        self.bin = Path(found[-1]).parent if found else Path(shutil.which("pg_ctl") or "").parent
        self.root = workdir / "pg"
        self.data = self.root / "data"
        self.port = port_or_free(port)
        self.log = self.root / "postgres.log"
        self._as: list[str] = []
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to the postgres user
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceError("running as root and there is no postgres user to own the cluster") from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
            os.chmod(workdir, 0o755)
            self._as = ["runuser", "-u", "postgres", "--"]

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise ServiceError(f"{Path(args[0]).name} failed: {(result.stderr or result.stdout).strip()[-800:]}")

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-locale")

    def _options(self) -> str:
        return (f"-p {self.port} -k {self.root} -c listen_addresses={HOST} -c max_connections=200 "
                "-c shared_buffers=64MB")

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", self._options(),
                  "-w", "-t", "60", "start")

    def restart_fast(self) -> None:
        """``pg_ctl restart -m fast``: every connection is cut, the server is back a moment later."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", self._options(),
                  "-m", "fast", "-w", "-t", "60", "restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
