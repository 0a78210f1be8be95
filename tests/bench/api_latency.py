"""Server start times, and GET /v1/shops latency over real HTTP.

    uv run python -m tests.bench.api_latency [--requests 2000] [--restarts 3]

Starts `seatwise serve --demo` as a subprocess on a free loopback port with a fresh data dir and waits for
/readyz (the first start: a new database, the demo generated and loaded), times sequential keep-alive
requests with a staff token and with a client token, stops it with SIGTERM, then starts it again on the same
data dir RESTARTS times (a restart: the database is there). Each start is measured from launching the process
to the first 200 from /readyz, and the server's own figure (from its process start) is printed beside it, with
the CPU seconds the server process and its embedded PostgreSQL (a daemon of its own) had used by then, apart,
and the load average, since the machine may be busy with more than this.

The app's rate limiter stays on: the server runs with a bench limit (BENCH_LIMIT, far above what one
sequential client sends) rather than none, so each request still pays for its count. Should an answer be a
429 anyway, the request waits for its Retry-After and is sent again: counted apart as rate-limited, never
as an error, and its time not among the latencies (it measures the server, not the limit).
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

# Sequential requests on one credential pass the default rate limit (50/s): this measures latency, not the
# limit, under a bench limit that one sequential client never reaches (the limiter still counts each call).
BENCH_LIMIT = {"SEATWISE_RATE_LIMIT": "100000/second"}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed_get(client: httpx.Client, path: str, headers: dict, limited: list[int]) -> float:
    """GET PATH until it is not a 429 (waiting for its Retry-After; each one counted in LIMITED); the
    milliseconds of the answer that was not. Any other status but 200 fails the bench."""
    while True:
        t0 = time.perf_counter()
        r = client.get(path, headers=headers)
        ms = (time.perf_counter() - t0) * 1000
        if r.status_code != 429:
            assert r.status_code == 200, (r.status_code, r.text[:200])
            return ms
        limited[0] += 1
        time.sleep(float(r.headers.get("retry-after", "1")))


def start_line(what: str, ready_s: float, cpu_s: float, pg_cpu_s: float, load: float, own: str) -> str:
    return (f"{what}: {ready_s:.1f} s to /readyz, CPU server {cpu_s:.1f} s + PostgreSQL {pg_cpu_s:.1f} s, "
            f"load {load:.2f} (the server says {own})")


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
        with seatwise_server(data_dir, demo=True, env=BENCH_LIMIT) as server, \
                httpx.Client(base_url=server.url, timeout=10) as client:
            client_token = subprocess.run(
                [sys.executable, "-m", "service.cli", "token", "issue", "--role", "client", "--tenant",
                 "lumi-beauty"],
                env=os.environ | {"SEATWISE_DATA_DIR": str(data_dir)}, capture_output=True, text=True,
                check=True).stdout.strip()
            first = (server.ready_s, server.cpu_s, server.pg_cpu_s, os.getloadavg()[0], own_figure(server))
            figures = {}
            limited = [0]
            for name, headers in (("staff", server.headers),
                                  ("client", {"Authorization": f"Bearer {client_token}"})):
                for _ in range(100):  # warm up
                    timed_get(client, "/v1/shops", headers, limited)
                samples = [timed_get(client, "/v1/shops", headers, limited) for _ in range(args.requests)]
                shops = len(client.get("/v1/shops", headers=headers).json()["items"])
                figures[name] = (statistics.median(samples), percentile(samples, 95), percentile(samples, 99),
                                 shops)
        restarts = []
        for _ in range(args.restarts):
            with seatwise_server(data_dir, demo=True, env=BENCH_LIMIT) as again:
                restarts.append((again.ready_s, again.cpu_s, again.pg_cpu_s, os.getloadavg()[0],
                                 own_figure(again)))
        for name, (p50, p95, p99, n) in figures.items():
            print(f"GET /v1/shops as {name:6s} ({n:2d} shops): p50 {p50:.2f} ms  p95 {p95:.2f} ms  p99 "
                  f"{p99:.2f} ms over {args.requests} requests")
        print(f"rate-limited answers (waited for and sent again, not counted as errors): {limited[0]}")
        print(start_line("first start with --demo on an empty data dir", *first))
        for k, figure in enumerate(restarts, 1):
            print(start_line(f"restart {k}", *figure))
        print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
        best = min(restarts) if restarts else (float("nan"),) * 3
        print(f"RESULT start_s={first[0]:.1f} restart_s={best[0]:.1f} start_cpu_s={first[1]:.1f} "
              f"start_pg_cpu_s={first[2]:.1f} restart_cpu_s={best[1]:.1f} "
              f"shops_p50_ms={figures['staff'][0]:.2f} client_p50_ms={figures['client'][0]:.2f} "
              f"rate_limited={limited[0]}")


if __name__ == "__main__":
    main()
