"""Server start time with --demo on an empty data dir, and GET /v1/shops latency over real HTTP.

    uv run python -m tests.bench.api_latency [--requests 2000]

Starts `seatwise serve --demo` as a subprocess on a free loopback port with a fresh data dir, waits for
/readyz, then times sequential keep-alive requests with a staff token and with a client token.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.bench.server import seatwise_server


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    data_dir = Path(tempfile.gettempdir()) / f"seatwise-bench-{os.getpid()}"
    data_dir.mkdir(mode=0o755)
    try:
        with seatwise_server(data_dir, demo=True) as server, \
                httpx.Client(base_url=server.url, timeout=10) as client:
            client_token = subprocess.run(
                [sys.executable, "-m", "service.cli", "token", "issue", "--role", "client", "--tenant",
                 "lumi-beauty"],
                env=os.environ | {"SEATWISE_DATA_DIR": str(data_dir)}, capture_output=True, text=True,
                check=True).stdout.strip()
            figures = {}
            for name, headers in (("staff", server.headers),
                                  ("client", {"Authorization": f"Bearer {client_token}"})):
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
            print(f"GET /v1/shops as {name:6s} ({n:2d} shops): p50 {p50:.2f} ms  p95 {p95:.2f} ms  p99 "
                  f"{p99:.2f} ms over {args.requests} requests")
        print(f"server start with --demo on an empty data dir: {server.ready_s:.1f} s")
        print(f"RESULT start_s={server.ready_s:.1f} shops_p50_ms={figures['staff'][0]:.2f} "
              f"client_p50_ms={figures['client'][0]:.2f}")
    finally:
        subprocess.run(["rm", "-rf", str(data_dir)], check=False)


if __name__ == "__main__":
    main()
