"""A real `seatwise serve` in a subprocess for the benchmarks: free loopback port, its own data dir,
its printed staff token, its stdout drained (a full pipe would stall it), stopped afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    token: str
    pid: int
    ready_s: float  # from launch to /readyz answering

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def seatwise_server(data_dir: Path, *, demo: bool = False, env: dict[str, str] | None = None,
                    log: str | None = None, workers: int = 1) -> Iterator[Server]:
    environment = os.environ | {"SEATWISE_DATA_DIR": str(data_dir)} | (env or {})
    environment.pop("DATABASE_URL", None)
    port = free_port()
    started = time.perf_counter()
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", str(workers),
               *(["--demo"] if demo else [])]
    with open(log or os.devnull, "w") as stderr:
        server = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            token = next((line.strip().split("=", 1)[1] for line in server.stdout
                          if line.startswith("export TOKEN=")), None)
            assert token, "the server printed no token"
            threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()  # access log
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, timeout=10) as client:
                while True:
                    try:
                        if client.get("/readyz").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.05)
            yield Server(url=url, token=token, pid=server.pid, ready_s=time.perf_counter() - started)
        finally:
            server.terminate()
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                server.kill()
