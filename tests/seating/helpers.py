"""Hand-made problems for the seating tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from service.seating.problem import Agent, AgentHistory, RosterProblem, Shop, Site
from service.seating.rules import CHINA_STANDARD, LabourRules

MONDAY = datetime(2026, 11, 8, 16, tzinfo=UTC)  # 2026-11-09 00:00 in Shanghai
WEDNESDAY = datetime(2026, 11, 10, 16, tzinfo=UTC)

KA = Shop("ka", 0, frozenset({"tmall", "cert:lumi"}))
STD = Shop("std", 1, frozenset({"tmall"}))
JD = Shop("jd", 2, frozenset({"jd"}))


def agent(
    skills: Sequence[str] = ("tmall", "cert:lumi", "jd"),
    *,
    site: int = 0,
    level: int = 2,
    rules: LabourRules = CHINA_STANDARD,
    history: AgentHistory | None = None,
    unavailable: tuple[tuple[int, int], ...] = (),
    id: str = "a",
) -> Agent:
    return Agent(
        id, site, level, frozenset(skills), rules, unavailable=unavailable, history=history or AgentHistory()
    )


def problem(
    agents: Sequence[Agent],
    *,
    shops: Sequence[Shop] = (KA, STD, JD),
    days: int = 7,
    seats: Sequence[int] = (10, 10),
    demand: np.ndarray | None = None,
    start: datetime = MONDAY,
) -> RosterProblem:
    T = 96 * days
    d = np.zeros((T, len(shops)), np.int64) if demand is None else demand
    return RosterProblem(
        start=start,
        n_intervals=T,
        shops=tuple(shops),
        demand=d,
        required=d,
        agents=tuple(agents),
        sites=tuple(Site(f"site{k}", c) for k, c in enumerate(seats)),
    )
