"""Benchmark: Erlang C required agents on a 96 x 500 grid against pyworkforce 0.5.1; Erlang A at 4,000
Erlangs.

    uv run --group bench python -m tests.bench.erlang [--sample CELLS]

Both sides get the same cells and targets: 80% answered within 20 s, no occupancy cap, no shrinkage, so
pyworkforce's raw_positions is compared with our required agents. pyworkforce takes one cell per call and
walks up from round(A + 1), rebuilding Erlang B from zero for every candidate in pure Python; it is run
once over every cell (or over a reproducible sample with --sample, extrapolated to the grid).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np

from service.capacity.erlang import erlang_c_metrics, required_agents

INTERVALS, SHOPS = 96, 500
INTERVAL_S = 900
TARGET_SL, ANSWER_S = 0.8, 20.0


def grid(seed: int = 20241111) -> tuple[np.ndarray, np.ndarray]:
    """Volumes per 15 minutes (96 x 500), each shop peaking at 10,000-20,000, and AHT per shop (s)."""
    rng = np.random.default_rng(seed)
    peak = rng.uniform(10_000, 20_000, SHOPS)
    hour = np.arange(INTERVALS) / 4
    # Two daily humps (late morning, evening rush) over a quiet night.
    profile = 0.03 + 0.97 * np.maximum(
        np.exp(-(((hour - 10.5) / 2.2) ** 2)), 0.9 * np.exp(-(((hour - 20.5) / 1.8) ** 2))
    )
    noise = rng.uniform(0.9, 1.1, (INTERVALS, SHOPS))
    volume = np.round(np.minimum(profile[:, None] * noise, 1.0) * peak[None, :])
    aht = np.round(rng.uniform(120, 300, SHOPS))
    return volume, aht


def best_of(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def pyworkforce_positions(volume: np.ndarray, aht: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, int]:
    """raw_positions for the given flat cells (-1 where pyworkforce raised); and the count that raised."""
    from pyworkforce.queuing import ErlangC

    rows, cols = np.unravel_index(cells, volume.shape)
    out = np.full(cells.size, -1, np.int64)
    errors = 0
    for i, (r, c) in enumerate(zip(rows, cols, strict=True)):
        try:
            erlang = ErlangC(
                transactions=float(volume[r, c]),
                aht=float(aht[c]),
                asa=ANSWER_S,
                interval=INTERVAL_S,
                shrinkage=0.0,
            )
            out[i] = erlang.required_positions(service_level=TARGET_SL, max_occupancy=1.0)["raw_positions"]
        except (ValueError, OverflowError, ZeroDivisionError) as exc:
            errors += 1
            if errors <= 3:
                print(f"  pyworkforce raised on cell {(int(r), int(c))}: {exc!r}")
    return out, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sample", type=int, default=0, help="run pyworkforce on this many random cells only"
    )
    parser.add_argument("--runs", type=int, default=7, help="runs of our side; the best is reported")
    args = parser.parse_args()

    volume, aht = grid()
    load = volume * aht[None, :] / INTERVAL_S
    print(
        f"grid {INTERVALS} x {SHOPS} = {volume.size} cells; volume per 15 min "
        f"{volume.min():.0f}..{volume.max():.0f};"
    )
    print(
        f"  offered load {load.min():.0f}..{load.max():.0f} Erlangs; target {TARGET_SL:.0%} in "
        f"{ANSWER_S:.0f} s"
    )

    def ours_c():
        return required_agents("erlang_c", volume, aht[None, :], INTERVAL_S, TARGET_SL, ANSWER_S)

    ours_s, ours = best_of(ours_c, args.runs)
    agents = ours.agents
    print(f"seatwise Erlang C: best of {args.runs}: {ours_s * 1e3:.1f} ms for {volume.size} cells")
    print(f"  agents {agents.min()}..{agents.max()}, total {agents.sum()}")

    try:
        import pyworkforce  # noqa: F401
    except ImportError:
        print("pyworkforce is not installed: run with `uv run --group bench ...`")
        pw_s = math.nan
        differ = -1
    else:
        rng = np.random.default_rng(1)
        cells = np.arange(volume.size)
        if 0 < args.sample < volume.size:
            cells = np.sort(rng.choice(volume.size, args.sample, replace=False))
        t0 = time.perf_counter()
        theirs, errors = pyworkforce_positions(volume, aht, cells)
        measured = time.perf_counter() - t0
        pw_s = measured * volume.size / cells.size
        label = "once" if cells.size == volume.size else f"{cells.size} cells, extrapolated to the grid"
        print(f"pyworkforce 0.5.1 ErlangC.required_positions: {measured:.2f} s ({label}: {pw_s:.2f} s)")
        mine = agents.ravel()[cells]
        ok = theirs >= 0
        differ = int(np.count_nonzero(mine[ok] != theirs[ok]))
        print(f"  cells compared {int(ok.sum())}, raised {errors}, agent counts differ in {differ}")
        if differ:
            show = cells[ok][mine[ok] != theirs[ok]][:5]
            rows, cols = np.unravel_index(show, volume.shape)
            for r, c, cell in zip(rows, cols, show, strict=True):
                theirs_n = int(theirs[np.searchsorted(cells, cell)])
                ns = np.array([agents[r, c], theirs_n])
                sl = erlang_c_metrics(volume[r, c], aht[c], INTERVAL_S, ns, ANSWER_S).service_level
                print(
                    f"  cell {(int(r), int(c))}: A={load[r, c]:.2f} seatwise {ns[0]} (SL {sl[0]:.4f}),"
                    f" pyworkforce {ns[1]} (SL {sl[1]:.4f})"
                )
        print(f"  speed ratio (pyworkforce / seatwise): {pw_s / ours_s:,.0f}x")

    # Erlang A at 4,000 Erlangs per cell: 20,000 contacts per 15 min at AHT 180 s, patience 2 min.
    cells_a = 20
    vol_a = np.full(cells_a, 20_000.0)
    aht_a = np.linspace(178.0, 182.0, cells_a)

    def ours_a():
        return required_agents("erlang_a", vol_a, aht_a, INTERVAL_S, TARGET_SL, ANSWER_S, patience_s=120.0)

    a_s, res_a = best_of(ours_a, 3)
    one_s, _ = best_of(
        lambda: required_agents(
            "erlang_a", 20_000.0, 180.0, INTERVAL_S, TARGET_SL, ANSWER_S, patience_s=120.0
        ),
        5,
    )
    print(
        f"seatwise Erlang A at ~4,000 Erlangs: {a_s / cells_a * 1e3:.1f} ms per cell over {cells_a} cells,"
        f" {one_s * 1e3:.1f} ms for a single cell; agents {res_a.agents.min()}..{res_a.agents.max()}"
        f" (below the load), abandon {res_a.abandon_rate.mean():.1%}"
    )
    ratio = pw_s / ours_s if math.isfinite(pw_s) else math.nan
    print(
        f"SUMMARY erlang_c_grid_ms={ours_s * 1e3:.1f} pyworkforce_grid_s={pw_s:.2f} speedup={ratio:,.0f}x"
        f" differing_cells={differ} erlang_a_4000E_ms_per_cell={a_s / cells_a * 1e3:.1f}"
        f" erlang_a_single_cell_ms={one_s * 1e3:.1f}"
    )


if __name__ == "__main__":
    main()
