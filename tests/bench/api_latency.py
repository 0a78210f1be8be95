"""Server start times, and GET /v1/shops latency over real HTTP.

    uv run python -m tests.bench.api_latency [--requests 2000] [--restarts 3]

Starts `seatwise serve --demo` as a subprocess on a free loopback port with a fresh data dir and waits for
/readyz (the first start: a new database, the demo generated and loaded), times sequential keep-alive
requests with a staff token and with a client token, stops it with SIGTERM, then starts it again on the same
data dir RESTARTS times (a restart: the database is there). Each start is measured from launching the process
to the first 200 from /readyz, and the server's own figure (from its process start) is printed beside it, with
the CPU seconds the server process had used by then (the embedded PostgreSQL is a daemon of its own: not
counted) and the load average, since the machine may be busy with more than this.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import httpx

from tests.bench.server import scratch_data_dir, seatwise_server

# Sequential requests on one credential pass the default rate limit (50/s): this measures latency, not it.
NO_LIMIT = {"SEATWISE_RATE_LIMIT": ""}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def own_figure(server) -> str:
    """What the server printed about its own start ('ready in 7.9 s (...)')."""
    line = next((x for x in server.stderr if "ready in" in x and "Seatwise" in x), "")
    return line.split("ready in", 1)[1].strip() if line else "nothing"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args()

    with scratch_data_dir("latency") as data_dir:
        with seatwise_server(data_dir, demo=True, env=NO_LIMIT) as server, \
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
        first = (server.ready_s, own_figure(server), server.cpu_s)
        restarts = []
        for _ in range(args.restarts):
            with seatwise_server(data_dir, demo=True, env=NO_LIMIT) as again:
                restarts.append((again.ready_s, own_figure(again), again.cpu_s))
        for name, (p50, p95, p99, n) in figures.items():
            print(f"GET /v1/shops as {name:6s} ({n:2d} shops): p50 {p50:.2f} ms  p95 {p95:.2f} ms  p99 "
                  f"{p99:.2f} ms over {args.requests} requests")
        print(f"first start with --demo on an empty data dir: {first[0]:.1f} s to /readyz, {first[2]:.1f} s "
              f"of the server's CPU (the server says {first[1]})")
        for k, (ready, own, cpu) in enumerate(restarts, 1):
            print(f"restart {k}: {ready:.1f} s to /readyz, {cpu:.1f} s of CPU (the server says {own})")
        print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        best = min(r for r, _, _ in restarts) if restarts else float("nan")
        print(f"RESULT start_s={first[0]:.1f} restart_s={best:.1f} start_cpu_s={first[2]:.1f} "
              f"shops_p50_ms={figures['staff'][0]:.2f} client_p50_ms={figures['client'][0]:.2f}")


if __name__ == "__main__":
    main()
