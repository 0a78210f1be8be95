"""Server start time with --demo on an empty data dir, and GET /v1/shops latency over real HTTP.

    uv run python -m tests.bench.api_latency [--requests 2000]

Starts `seatwise serve --demo` as a subprocess on a free loopback port with a fresh data dir, waits for
/readyz, then times sequential keep-alive requests with a staff token and with a client token.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    base_dir = Path(tempfile.gettempdir()) / f"seatwise-bench-{os.getpid()}"
    base_dir.mkdir(mode=0o755)
    port = free_port()
    env = os.environ | {"SEATWISE_DATA_DIR": str(base_dir)}
    env.pop("DATABASE_URL", None)
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--demo", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        token = None
        while time.perf_counter() - started < 120:
            line = server.stdout.readline()
            if line.startswith("export TOKEN="):
                token = line.strip().split("=", 1)[1]
                break
        assert token, "the server printed no token"
        # Keep draining the server's stdout (uvicorn's access log): a full pipe would stall it.
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
        with httpx.Client(base_url=url, timeout=10) as client:
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            start_s = time.perf_counter() - started
            staff = {"Authorization": f"Bearer {token}"}
            client_token = subprocess.run(
                [sys.executable, "-m", "service.cli", "token", "issue", "--role", "client", "--tenant", "lumi-beauty"],
                env=env, capture_output=True, text=True, check=True).stdout.strip()
            figures = {}
            for name, headers in (("staff", staff), ("client", {"Authorization": f"Bearer {client_token}"})):
                for _ in range(100):  # warm up
                    client.get("/v1/shops", headers=headers)
                samples = []
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    r = client.get("/v1/shops", headers=headers)
                    samples.append((time.perf_counter() - t0) * 1000)
                    assert r.status_code == 200
                figures[name] = (statistics.median(samples), percentile(samples, 95), percentile(samples, 99),
                                 len(r.json()["items"]))
        for name, (p50, p95, p99, n) in figures.items():
            print(f"GET /v1/shops as {name:6s} ({n:2d} shops): p50 {p50:.2f} ms  p95 {p95:.2f} ms  p99 {p99:.2f} ms "
                  f"over {args.requests} requests")
        print(f"server start with --demo on an empty data dir: {start_s:.1f} s")
        p50 = figures["staff"][0]
        print(f"RESULT start_s={start_s:.1f} shops_p50_ms={p50:.2f} client_p50_ms={figures['client'][0]:.2f}")
    finally:
        server.terminate()
        server.wait(30)
        subprocess.run(["rm", "-rf", str(base_dir)], check=False)


if __name__ == "__main__":
    main()
