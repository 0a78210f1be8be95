"""Stage timings for the log: where a batch's or a plan's time went."""

from __future__ import annotations

import logging
import time


class StageClock:
    """Laps of named stages; `str()` lists them (`parse 0.412 s, store 0.090 s`). With LOG, each lap is
    also logged as it ends, and `step` may be passed as a progress callback."""

    def __init__(self, log: logging.Logger | None = None, what: str = "stage") -> None:
        self.last = time.perf_counter()
        self.laps: list[tuple[str, float]] = []
        self.log = log
        self.what = what

    def lap(self, name: str) -> float:
        now = time.perf_counter()
        seconds = now - self.last
        self.laps.append((name, seconds))
        self.last = now
        if self.log is not None:
            self.log.info("%s %s: %.3f s", self.what, name, seconds)
        return seconds

    step = lap

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.3f} s" for name, seconds in self.laps)
