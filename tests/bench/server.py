"""A real `seatwise serve` in a subprocess, for the benchmarks and the tests that need a real process: a free
loopback port, its own data dir, its printed staff token, its output drained (a full pipe would stall it),
stopped afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_env(data_dir: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `seatwise serve` on the embedded database of DATA_DIR."""
    environment = os.environ | {"SEATWISE_DATA_DIR": str(data_dir)} | (env or {})
    for name in ("DATABASE_URL", "SEATWISE_APP_DATABASE_URL", "SEATWISE_JWT_SECRET"):
        if name not in (env or {}):
            environment.pop(name, None)
    return environment


@dataclass
class Server:
    url: str
    token: str
    pid: int
    ready_s: float  # from launch to /readyz answering
    cpu_s: float  # CPU seconds of the server process (and its children) by then
    process: subprocess.Popen = field(repr=False)
    stderr: list[str] = field(default_factory=list, repr=False)
    stdout: list[str] = field(default_factory=list, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Send SIG and wait for the exit code (killed after TIMEOUT)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)


def start_server(data_dir: Path, *args: str, port: int | None = None, env: dict[str, str] | None = None,
                 timeout: float = 180) -> tuple[subprocess.Popen, list[str], list[str]]:
    """Launch `seatwise serve ARGS` on DATA_DIR; its stdout and stderr lines are collected as they come."""
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port or free_port()), *args]
    process = subprocess.Popen(command, env=serve_env(data_dir, env), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    err: list[str] = []
    for stream, lines in ((process.stdout, out), (process.stderr, err)):
        threading.Thread(target=lambda s=stream, x=lines: [x.append(line) for line in s], daemon=True).start()
    return process, out, err


def wait_for_token(process: subprocess.Popen, out: list[str], timeout: float = 180) -> str | None:
    """The token the server printed once ready; None when it exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in out:
            if line.startswith("export TOKEN="):
                return line.strip().split("=", 1)[1]
        if process.poll() is not None:
            time.sleep(0.2)  # let the reader threads drain
            return next((x.strip().split("=", 1)[1] for x in out if x.startswith("export TOKEN=")), None)
        time.sleep(0.05)
    raise TimeoutError("the server printed no token in time")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process PID, of its live descendants and of the children it has reaped
    (PostgreSQL's postmaster reaps its ended backends)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        reaped = root.cpu_times()
    except psutil.Error:
        return float("nan")
    total = reaped.children_user + reaped.children_system
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


@contextmanager
def seatwise_server(data_dir: Path, *, demo: bool = False, env: dict[str, str] | None = None,
                    log: str | None = None, workers: int = 1) -> Iterator[Server]:
    port = free_port()
    started = time.perf_counter()
    process, out, err = start_server(data_dir, "--workers", str(workers), *(["--demo"] if demo else []),
                                     port=port, env=env)
    server = None
    try:
        token = wait_for_token(process, out)
        assert token, "the server printed no token:\n" + "".join(err[-20:])
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=10) as client:
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
        server = Server(url=url, token=token, pid=process.pid, ready_s=time.perf_counter() - started,
                        cpu_s=cpu_seconds(process.pid), process=process, stderr=err, stdout=out)
        yield server
    finally:
        if server is not None:
            server.stop()
        elif process.poll() is None:
            process.kill()
            process.wait(10)
        if log:
            Path(log).write_text("".join(err))
