"""A real `seatwise serve` in a subprocess, for the benchmarks and the tests that need a real process: a free
loopback port, its own data dir, its printed staff token, its output drained (a full pipe would stall it),
stopped afterwards; and the scratch data dir a benchmark runs in (`scratch_data_dir`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def scratch_data_dir(name: str, *, database: bool = False) -> Iterator[Path]:
    """A benchmark's own new data dir, `seatwise-bench-NAME-PID` under the temp dir, removed afterwards (the
    embedded PostgreSQL this process attached to in it stopped first). With DATABASE, that PostgreSQL is
    started and migrated before the dir is handed over: `embedded.start(dir)` gives its owner URL."""
    from service import embedded, migrations

    data_dir = Path(tempfile.gettempdir()) / f"seatwise-bench-{name}-{os.getpid()}"
    data_dir.mkdir(mode=0o755)
    try:
        if database:
            migrations.upgrade(embedded.start(data_dir))
        yield data_dir
    finally:
        embedded.release(data_dir)  # a no-op when this process never attached (the server did)
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)


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
    pg_cpu_s: float  # CPU seconds of its embedded PostgreSQL by then (nan on another database)
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
                 timeout: float = 180, log: str | None = None
                 ) -> tuple[subprocess.Popen, list[str], list[str]]:
    """Launch `seatwise serve ARGS` on DATA_DIR; its stdout and stderr lines are collected as they come, or
    its stderr written straight to the file LOG (a load bench: the request log then costs this process
    nothing, no thread of it taking the interpreter's lock from the load's event loop on every line)."""
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port or free_port()), *args]
    log_file = open(log, "w") if log else None  # noqa: SIM115 - the child's own, closed once it has it
    try:
        process = subprocess.Popen(command, env=serve_env(data_dir, env), stdout=subprocess.PIPE,
                                   stderr=log_file or subprocess.PIPE, text=True)
    finally:
        if log_file is not None:
            log_file.close()
    out: list[str] = []
    err: list[str] = []
    for stream, lines in ((process.stdout, out), (process.stderr, err)):
        if stream is not None:
            threading.Thread(target=lambda s=stream, x=lines: [x.append(line) for line in s],
                             daemon=True).start()
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


def wait_ready(client: httpx.Client) -> None:
    """Until the server behind CLIENT answers /readyz with 200."""
    while True:
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)


@contextmanager
def seatwise_server(data_dir: Path, *, demo: bool = False, env: dict[str, str] | None = None,
                    log: str | None = None, workers: int = 1) -> Iterator[Server]:
    """A `seatwise serve` on DATA_DIR for the duration; LOG: a file its stderr goes to (else its lines are
    kept in Server.stderr)."""
    port = free_port()
    started = time.perf_counter()
    process, out, err = start_server(data_dir, "--workers", str(workers), *(["--demo"] if demo else []),
                                     port=port, env=env, log=log)
    server = None
    try:
        token = wait_for_token(process, out)
        assert token, "the server printed no token:\n" + "".join(err[-20:])
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_ready(client)
        ready_s = time.perf_counter() - started
        try:
            use = cpu_seconds(process.pid, data_dir)
        except (OSError, ValueError, IndexError):  # no embedded PostgreSQL (DATABASE_URL)
            use = {"server": cpu_seconds(process.pid, process.pid)["server"], "postgres": float("nan")}
        server = Server(url=url, token=token, pid=process.pid, ready_s=ready_s, cpu_s=use["server"],
                        pg_cpu_s=use["postgres"], process=process, stderr=err, stdout=out)
        yield server
    finally:
        if server is not None:
            server.stop()
        elif process.poll() is None:
            process.kill()
            process.wait(10)


def cpu_seconds(pid: int, postgres: Path | int) -> dict[str, float]:
    """CPU seconds used so far by the server process PID with its children, and by the embedded PostgreSQL
    (its data dir, or its postmaster's pid): the postmaster and the backends alive now, and the ones that
    have ended (parallel workers, closed connections: their parent reaped them). This bench's own, not other
    processes on the machine. Read before and after a request; with the load average, what a figure cost."""
    use = {"server": 0.0, "postgres": 0.0}
    postmaster = postgres if isinstance(postgres, int) else \
        int((postgres / "pg" / "postmaster.pid").read_text().split()[0])
    for key, root in (("server", pid), ("postgres", postmaster)):
        try:
            top = psutil.Process(root)
            procs = [top, *top.children(recursive=True)]
            ended = top.cpu_times()
        except psutil.Error:
            continue
        use[key] += ended.children_user + ended.children_system
        for p in procs:
            try:
                t = p.cpu_times()
            except psutil.Error:
                continue
            use[key] += t.user + t.system
    return use


def cost(before: dict[str, float], after: dict[str, float]) -> str:
    """`CPU server 1.2 s, postgres 0.8 s; load 1.3` between two cpu_seconds readings (the load: the
    machine's 1-minute average now, other processes included)."""
    spent = ", ".join(f"{k} {after[k] - before[k]:.2f} s" for k in before)
    return f"CPU {spent}; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
