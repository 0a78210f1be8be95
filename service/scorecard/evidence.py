"""Flags and their evidence. Every flag says why: which metric, its value, the threshold it crossed, the
comparison and the period it was measured over, and which side (client or employee) the fact belongs to,
so that a client-facing view can drop employee facts without knowing each flag's internals.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from service.scorecard.periods import Period


class Side(enum.StrEnum):
    client = "client"
    employee = "employee"
    process = "process"


class FlagKind(enum.StrEnum):
    BURN = "BURN"  # client index at target while the team runs hot
    SERVICE_RISK = "SERVICE_RISK"  # client index below target, team not running hot
    BOTH = "BOTH"  # client index below target AND the team runs hot; replaces the other two
    RECOVERY_FAILED = "RECOVERY_FAILED"  # a promotion's recovery obligation was not met by its deadline
    SHORT_RESTS = "SHORT_RESTS"  # workload flags from people.workload_flags
    CONSECUTIVE_DAYS = "CONSECUTIVE_DAYS"
    LATE_CHANGES = "LATE_CHANGES"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One fact behind a flag: ``value comparison threshold`` held over ``period``.

    ``comparison`` is the relation that made the fact count (e.g. ``">"`` for "occupancy above 90 % in 12
    intervals, threshold 8": value 12, comparison ">=", threshold 8); ``note`` adds what a number cannot
    say (e.g. "promotion days, relaxed threshold").
    """

    metric: str
    value: float
    comparison: str
    threshold: float
    period: Period
    side: Side
    note: str = ""


@dataclass(frozen=True, slots=True)
class Flag:
    kind: FlagKind
    evidence: tuple[Evidence, ...]
