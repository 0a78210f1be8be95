"""The cyclic garbage collector, paused around big batches of acyclic objects.

A batch that builds thousands of container objects and keeps them alive to its end (parsed records, a
month's figures, a year's report rows) makes the collector run every 700 allocations and rescan them, with
full passes over the whole heap on the way: as much time as the work itself. None of these objects form
cycles, so reference counting frees them all; the collector resumes when the last such batch of the
process ends (a counter: concurrent requests share the one collector).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
_batches = 0


@contextmanager
def paused() -> Iterator[None]:
    """Pause the cyclic collector for the block (see the module docstring); a no-op when someone else (a
    test, a profiler) has switched it off."""
    global _batches
    if _batches == 0 and not gc.isenabled():
        yield
        return
    _batches += 1
    gc.disable()
    try:
        yield
    finally:
        _batches -= 1
        if _batches == 0:
            gc.enable()


def pausing(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """An async use case run with the collector paused (its awaits included)."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with paused():
            return await fn(*args, **kwargs)

    return run
