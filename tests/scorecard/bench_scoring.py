"""Scorecard maths micro-benchmark (not collected by pytest): 5,000 scopes x 12 months, and one month of
the product's size (500 shops, 200 brands, 3 sites, 400 teams, 4,000 agents) with its QA, attrition and
pulse maths.

    uv run python -m tests.scorecard.bench_scoring [--scopes 5000] [--months 12] [--runs 3]

Timed (best of ``--runs``), inputs built beforehand:
- core: the columnar functions (score_columns, ThresholdColumns.of, running_hot, flag_codes,
  quadrant_codes) over scopes x months, one call per month;
- objects: score_month from ScopeMonthInputs to Scorecard objects (flags, evidence, recoveries) for all
  scopes x months, then the same for one product-size month;
- month maths: one product-size month's QA (40,000 reviews via score_matrix, IQS per agent and team),
  attrition per team and site (4,000 agents), a 3,000-response pulse report, and its scorecards;
- trend: one scope's 12-month trend (the latency of one API call's maths).
The last line prints the figures.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from service.scorecard.people import PulseResponse, Tenure, attrition_by_group, pulse_report
from service.scorecard.periods import Period, add_months
from service.scorecard.qa import Category, RatingScale, Template, score_matrix
from service.scorecard.scoring import (
    ENPS,
    SLA_ATTAINMENT,
    DefinitionBook,
    Promotion,
    RecoveryInputs,
    ScopeKind,
    ScopeMonthInputs,
    ScopeRef,
    ThresholdColumns,
    ThresholdPolicy,
    Thresholds,
    WorkloadColumns,
    flag_codes,
    quadrant_codes,
    running_hot,
    score_columns,
    score_month,
    standard_definition,
    trend,
)

FIRST_MONTH = date(2025, 1, 1)
PRODUCT_SCOPES = (
    (ScopeKind.shop, 500),
    (ScopeKind.brand, 200),
    (ScopeKind.site, 3),
    (ScopeKind.team, 400),
    (ScopeKind.agent, 4000),
)


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def make_inputs(rng: np.random.Generator, scopes: list[ScopeRef], months: int) -> list[ScopeMonthInputs]:
    definition = standard_definition()
    keys = definition.keys
    low = {k.key: min(getattr(k.rule, "worst", 0.0), getattr(k.rule, "best", 1.0)) for k in definition.kpis}
    high = {k.key: max(getattr(k.rule, "worst", 0.0), getattr(k.rule, "best", 1.0)) for k in definition.kpis}
    out = []
    double_11 = Promotion("p11", "Double 11", date(2025, 11, 1), date(2025, 11, 11))
    for m in range(months):
        month = add_months(FIRST_MONTH, m)
        values = rng.uniform(0, 1, (len(scopes), len(keys)))
        missing = rng.uniform(0, 1, (len(scopes), len(keys))) < 0.1
        hot = rng.integers(0, 14, len(scopes))
        overtime = rng.uniform(0, 60, len(scopes))
        under = rng.integers(0, 8, len(scopes))
        for i, scope in enumerate(scopes):
            kpis = {
                k: None if missing[i, j] else low[k] + (high[k] - low[k]) * (1.2 * values[i, j] - 0.1)
                for j, k in enumerate(keys)
            }
            promo = month.month == 11
            out.append(
                ScopeMonthInputs(
                    scope,
                    month,
                    kpis,
                    hot_intervals=int(hot[i]),
                    promotion_hot_intervals=int(hot[i] // 3) if promo else None,
                    overtime_hours=float(overtime[i]),
                    promotion_overtime_hours=float(overtime[i] / 2) if promo else None,
                    overtime_cap_hours=36.0,
                    previous_enps=float(rng.uniform(-50, 50)),
                    understaffed_intervals=int(under[i]),
                    promotions=(double_11,) if promo else (),
                    recoveries=(
                        RecoveryInputs(double_11, 30.0, int(hot[i] % 10), 20.0, 18.0, float(overtime[i])),
                    )
                    if promo and i % 4 == 0
                    else (),
                )
            )
    return out


def core_pass(
    months: list[tuple[NDArray[np.float64], WorkloadColumns]],
    book: DefinitionBook,
    thresholds: list[Thresholds],
) -> None:
    """The columnar path as a database-fed caller would use it (columns prepared beforehand)."""
    definition = book.definitions[0]
    for values, w in months:
        columns = score_columns(definition, values)
        t = ThresholdColumns.of(thresholds)
        hot = running_hot(w, t)
        flag_codes(columns.client, hot.any, t.client_target)
        quadrant_codes(columns.client, columns.employee, t.client_target, t.employee_target)


def to_columns(
    items: list[ScopeMonthInputs], keys: tuple[str, ...]
) -> tuple[NDArray[np.float64], WorkloadColumns]:
    values = np.array([[x.kpis.get(k) for k in keys] for x in items], dtype=float)

    def col(name: str) -> NDArray[np.float64]:
        return np.array([getattr(x, name) for x in items], dtype=float)

    w = WorkloadColumns(
        col("hot_intervals"),
        col("promotion_hot_intervals"),
        col("overtime_hours"),
        col("promotion_overtime_hours"),
        col("overtime_cap_hours"),
        np.array([x.kpis.get(ENPS) for x in items], dtype=float),
        col("previous_enps"),
        col("understaffed_intervals"),
        np.array([x.kpis.get(SLA_ATTAINMENT) for x in items], dtype=float),
    )
    return values, w


def month_maths(
    rng: np.random.Generator, month_inputs: list[ScopeMonthInputs], book: DefinitionBook
) -> Callable[[], None]:
    template = Template(
        "chat",
        (
            Category("greeting", 1, RatingScale.points(3)),
            Category("solution", 3, RatingScale.points(5)),
            Category("tone", 1, RatingScale.points(4)),
            Category("accuracy", 2, RatingScale.points(5)),
            Category("compliance", 2, RatingScale.binary(), critical=True, na_allowed=False),
        ),
    )
    n_reviews, n_agents = 40_000, 4000
    ratings = np.column_stack(
        [rng.integers(c.scale.minimum, c.scale.maximum + 1, n_reviews) for c in template.categories]
    ).astype(float)
    ratings[:, 2][rng.uniform(0, 1, n_reviews) < 0.2] = np.nan  # tone N/A
    review_agent = rng.integers(0, n_agents, n_reviews)
    team_of_agent = np.arange(n_agents) % 400
    period = Period.month(date(2025, 3, 1))
    tenures = []
    for a in range(n_agents):
        start = date(2024, 1, 1) + timedelta(days=int(rng.integers(0, 450)))
        end = start + timedelta(days=int(rng.integers(10, 400))) if a % 5 == 0 else None
        tenures.append((a, Tenure(f"a{a}", start, end)))
    team_tenures = [(f"t{team_of_agent[a]}", t) for a, t in tenures]
    site_tenures = [(f"s{a % 3}", t) for a, t in tenures]
    pulses = [
        PulseResponse(f"s{int(t) % 3}", f"t{int(t)}", int(rng.integers(0, 11)), int(rng.integers(1, 6)))
        for t in rng.integers(0, 400, 3000)
    ]
    pulses = [
        PulseResponse(f"s{int(p.team_id[1:]) % 3}", p.team_id, p.recommend, p.wellbeing) for p in pulses
    ]

    def run() -> None:
        scored = score_matrix(template, ratings)
        valid = ~np.isnan(scored.review_scores)
        per_agent = np.bincount(review_agent[valid], scored.review_scores[valid], n_agents) / np.maximum(
            np.bincount(review_agent[valid], minlength=n_agents), 1
        )
        teams = team_of_agent[review_agent[valid]]
        per_team = np.bincount(teams, scored.review_scores[valid], 400) / np.maximum(
            np.bincount(teams, minlength=400), 1
        )
        assert per_agent.shape == (n_agents,) and per_team.shape == (400,)
        attrition_by_group(team_tenures, period)
        attrition_by_group(site_tenures, period)
        pulse_report(pulses)
        score_month(month_inputs, book)

    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scopes", type=int, default=5000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    kinds = list(ScopeKind)
    scopes = [ScopeRef(kinds[i % len(kinds)], f"s{i}") for i in range(args.scopes)]
    book = DefinitionBook([standard_definition()])
    policy = ThresholdPolicy(overrides={scopes[0]: {"client_target": 80}})

    build = time.perf_counter()
    all_inputs = make_inputs(rng, scopes, args.months)
    product = [ScopeRef(kind, f"{kind}-{i}") for kind, n in PRODUCT_SCOPES for i in range(n)]
    product_month = make_inputs(rng, product, 1)
    build = time.perf_counter() - build
    keys = book.definitions[0].keys
    by_month = [all_inputs[m * args.scopes : (m + 1) * args.scopes] for m in range(args.months)]
    columns = [to_columns(items, keys) for items in by_month]
    thresholds = [policy.for_scope(s) for s in scopes]

    core = best_of(args.runs, lambda: core_pass(columns, book, thresholds))
    objects = best_of(args.runs, lambda: score_month(all_inputs, book, policy))
    one_month = best_of(args.runs, lambda: score_month(product_month, book, policy))
    maths = best_of(args.runs, month_maths(rng, product_month, book))
    one_scope = [x for x in all_inputs if x.scope == scopes[1]]
    trend_s = best_of(args.runs, lambda: trend(one_scope, book, policy))
    cards = score_month(all_inputs, book, policy)
    flagged = sum(1 for c in cards if c.flags)
    n = args.scopes * args.months
    print(f"inputs built in {build:.1f} s; {n:,} scorecards, {flagged:,} with flags")
    print(
        f"{args.scopes:,} scopes x {args.months} months: core {core * 1000:.0f} ms, objects {objects:.2f} s "
        f"({objects / n * 1e6:.1f} us/scorecard); product month ({len(product_month):,} scopes): "
        f"scorecards {one_month * 1000:.0f} ms, with QA/attrition/pulse maths {maths * 1000:.0f} ms; "
        f"12-month trend of one scope {trend_s * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
