"""Generated roster problems, deterministic from a seed: the Double 11 instance of the benchmark and smaller
ones for the tests and the optimiser.

The plan: shops of brands (one in seven brands KA, three standard, three long-tail), each shop on one
platform (tmall 30 %, jd 25 %, taobao, pdd, douyin 15 % each), requiring its platform, a brand certificate
for KA shops ("cert:brand-07"), and for one shop in five each a presale or an aftersale queue. Demand per
shop follows a Double 11 day in Asia/Shanghai: quiet from 02:00 to 08:00, rising through the morning, a
plateau in the afternoon, the 20:00-24:00 peak, growing day by day to the 11-11 itself, whose
00:00-02:00 kick-off spike is the busiest time of the year (above the evening peak). Every shop's curve
carries its own hourly noise. The requirement is scaled so that its busiest interval needs `peak_agents`;
the seats (summed over the sites) are `seat_ratio` of that, so the peak is over-demanded, and the
allocated demand follows the capacity plan's rule: KA shops first, then standard, then long-tail, shares
within the short tier.

People: agents at sites in proportion to their seats; levels trainee 10 %, agent 55 %, senior 20 %, lead
8 %, supervisor 5 %, manager 2 %; 1-3 platforms drawn by the platforms' share of demand, presale 75 %,
aftersale 55 %. Each KA brand has a team of `team_ratio` (2.4) agents per seat of the brand's peak demand
(people work a third to half of the day, and the 11-11 needs the same people the night before), seniors
first, then agents: they get the brand's certificate, one or two of the brand's platforms (by their
demand) and both queues; leads and above may hold a second brand's certificate. Rules: mostly
CHINA_STANDARD, part-timers (CHINA_PART_TIME, at most 4 h a day; half of them prefer evenings or daytime)
and comprehensive-hours agents (CHINA_COMPREHENSIVE_MONTH); some on leave for a day, some unavailable for
a few hours. History: most worked the day before, ending between 17:00 and 24:00 (one in ten, the night
crew, in the morning), one or two days in a row, up to 15 h of overtime earlier in the month. Loaded
hourly cost by level (38-100 CNY), part-timers 32.

The Double 11 instance has 2,182 seats on three sites for a requirement peaking at 2,297 (the kick-off),
4,000 agents and about 71,000 agent-hours of allocated demand over the three days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from service.seating.problem import Agent, AgentHistory, RosterProblem, Shop, Site, Span
from service.seating.rules import CHINA_COMPREHENSIVE_MONTH, CHINA_PART_TIME, CHINA_STANDARD, LabourRules

PLATFORMS = ("tmall", "jd", "taobao", "pdd", "douyin")
PLATFORM_SHARE = (0.30, 0.25, 0.15, 0.15, 0.15)
LEVEL_SHARE = (0.10, 0.55, 0.20, 0.08, 0.05, 0.02)
LEVEL_COST = (38, 45, 55, 65, 80, 100)  # CNY per loaded hour
PART_TIME_COST = 32
SITE_NAMES = ("hangzhou", "chengdu", "hefei", "wuhan", "xian")
SHANGHAI = "Asia/Shanghai"

# Share of the evening peak by local hour (value at the start of the hour, linear within it).
_PROFILE = (
    0.40,
    0.28,
    0.14,
    0.08,
    0.06,
    0.06,
    0.07,
    0.12,
    0.30,
    0.50,
    0.68,
    0.75,
    0.62,
    0.66,
    0.70,
    0.70,
    0.70,
    0.72,
    0.76,
    0.86,
    1.00,
    1.00,
    1.00,
    0.92,
)
_SPIKE = (1.15, 1.12, 0.55)  # the 11-11 kick-off, 00:00-03:00, in units of that day's evening peak


@dataclass(frozen=True)
class InstanceSpec:
    n_shops: int = 500
    n_brands: int = 60
    n_agents: int = 4000
    days: int = 3
    start: datetime = datetime(2026, 11, 8, 16, tzinfo=UTC)  # 2026-11-09 00:00 in Asia/Shanghai, a Monday
    site_shares: tuple[float, ...] = (0.45, 0.33, 0.22)
    peak_agents: int = 2300  # requirement of the busiest interval (summed over shops)
    seat_ratio: float = 0.95  # seats / peak requirement
    day_growth: tuple[float, ...] = (0.72, 0.86, 1.0)  # evening peak of each day, relative to the last
    spike_day: int | None = 2  # day whose 00:00-03:00 is the kick-off spike (None: no spike)
    team_ratio: float = 2.4  # KA team members per seat of the brand's peak demand
    part_time_share: float = 0.12
    comprehensive_share: float = 0.06
    leave_share: float = 0.03  # a whole day off
    partial_leave_share: float = 0.02  # a few hours unavailable
    seed: int = 0


def double11(seed: int = 0) -> RosterProblem:
    """The benchmark's instance: 500 shops x 288 intervals (2026-11-09..11-11), 4,000 agents, 3 sites."""
    return generate(InstanceSpec(seed=seed))


def optimise_instance(seed: int = 0) -> RosterProblem:
    """50 shops x 96 intervals (11-11) x 400 agents on 2 sites: the optimiser's instance."""
    return generate(
        InstanceSpec(
            n_shops=50,
            n_brands=14,
            n_agents=400,
            days=1,
            start=datetime(2026, 11, 10, 16, tzinfo=UTC),
            site_shares=(0.6, 0.4),
            peak_agents=230,
            day_growth=(1.0,),
            spike_day=0,
            seed=seed,
        )
    )


def small(seed: int = 0, days: int = 1, **overrides: object) -> RosterProblem:
    """A dozen shops, 60 agents, one day (for tests)."""
    spec = dict(
        n_shops=12,
        n_brands=7,
        n_agents=60,
        days=days,
        start=datetime(2026, 11, 8, 16, tzinfo=UTC) if days > 1 else datetime(2026, 11, 10, 16, tzinfo=UTC),
        site_shares=(0.6, 0.4),
        peak_agents=36,
        day_growth=(0.8, 0.9, 1.0)[-days:] if days <= 3 else (1.0,) * days,
        spike_day=days - 1 if days <= 3 else None,
        seed=seed,
    )
    spec.update(overrides)
    return generate(InstanceSpec(**spec))  # type: ignore[arg-type]


def medium(seed: int = 0) -> RosterProblem:
    """60 shops x 192 intervals (11-10..11-11) x 500 agents on 2 sites (for tests)."""
    return generate(
        InstanceSpec(
            n_shops=60,
            n_brands=14,
            n_agents=500,
            days=2,
            start=datetime(2026, 11, 9, 16, tzinfo=UTC),
            site_shares=(0.6, 0.4),
            peak_agents=290,
            day_growth=(0.86, 1.0),
            spike_day=1,
            seed=seed,
        )
    )


def generate(spec: InstanceSpec) -> RosterProblem:
    rng = np.random.default_rng(spec.seed)
    T = 96 * spec.days
    shops, brand_of, tiers = _shops(spec, rng)
    required = _requirement(spec, rng, shops, T)
    seats_total = max(1, int(round(spec.seat_ratio * required.sum(axis=1).max())))
    demand = _allocate(required, tiers, seats_total)
    sites = _sites(spec, seats_total)
    agents = _agents(spec, rng, shops, brand_of, tiers, demand, sites, T)
    return RosterProblem(
        start=spec.start,
        n_intervals=T,
        shops=tuple(shops),
        demand=demand,
        required=required,
        agents=tuple(agents),
        sites=tuple(sites),
    )


def _shops(spec: InstanceSpec, rng: np.random.Generator) -> tuple[list[Shop], list[int], NDArray[np.int64]]:
    shops: list[Shop] = []
    brand_of: list[int] = []
    tiers = np.zeros(spec.n_shops, np.int64)
    for j in range(spec.n_shops):
        brand = j % spec.n_brands
        tier = 0 if brand % 7 == 0 else (1 if brand % 7 < 4 else 2)
        platform = PLATFORMS[int(rng.choice(len(PLATFORMS), p=PLATFORM_SHARE))]
        skills = {platform}
        if tier == 0:
            skills.add(f"cert:brand-{brand:02d}")
        queue = rng.random()
        if queue < 0.2:
            skills.add("presale")
        elif queue < 0.4:
            skills.add("aftersale")
        shops.append(Shop(f"shop-{j:03d}", tier, frozenset(skills)))
        brand_of.append(brand)
        tiers[j] = tier
    return shops, brand_of, tiers


def _profile(hours: NDArray[np.float64]) -> NDArray[np.float64]:
    h = np.floor(hours).astype(np.int64) % 24
    frac = hours - np.floor(hours)
    prof = np.array(_PROFILE)
    return prof[h] * (1 - frac) + prof[(h + 1) % 24] * frac


def _requirement(
    spec: InstanceSpec, rng: np.random.Generator, shops: list[Shop], T: int
) -> NDArray[np.int64]:
    zone = ZoneInfo(SHANGHAI)
    local = [spec.start.astimezone(zone) + timedelta(minutes=15 * t) for t in range(T)]
    hours = np.array([x.hour + x.minute / 60 for x in local])
    day = np.array([(x.date() - local[0].date()).days for x in local])
    growth = np.array(spec.day_growth)[np.minimum(day, len(spec.day_growth) - 1)]
    base = _profile(hours) * growth
    if spec.spike_day is not None:
        on = (day == spec.spike_day) & (hours < 3)
        spike = np.array(_SPIKE)[np.minimum(hours[on].astype(np.int64), 2)]
        base[on] = spike * growth[on]
    size = np.array(
        [
            rng.uniform(8, 24) if s.tier == 0 else rng.uniform(3, 8) if s.tier == 1 else rng.uniform(1, 3)
            for s in shops
        ]
    )
    # Hourly noise per shop, smoothed over the neighbouring hours; douyin shops peak later (live streams).
    n_hours = T // 4 + 2
    noise = rng.lognormal(0.0, 0.12, size=(n_hours, len(shops)))
    noise = (noise[:-2] + noise[1:-1] + noise[2:]) / 3
    per_interval = np.repeat(noise, 4, axis=0)[:T]
    shape = base[:, None] * per_interval
    douyin = np.array(["douyin" in s.required_skills for s in shops])
    evening = ((hours >= 19) & (hours < 23)).astype(float)[:, None]
    shape = np.where(douyin[None, :], shape * (1 + 0.15 * evening), shape)
    raw = shape * size[None, :]
    scale = spec.peak_agents / float(raw.sum(axis=1).max())
    out: NDArray[np.int64] = np.round(raw * scale).astype(np.int64)
    return out


def _allocate(required: NDArray[np.int64], tiers: NDArray[np.int64], seats: int) -> NDArray[np.int64]:
    """Seats per (interval, shop): tiers in rank order, the first short tier shares what is left."""
    out = np.zeros_like(required)
    for t in range(required.shape[0]):
        left = seats
        for tier in sorted(set(tiers.tolist())):
            cols = np.flatnonzero(tiers == tier)
            want = required[t, cols]
            total = int(want.sum())
            if total <= left:
                out[t, cols] = want
                left -= total
                continue
            if left > 0 and total > 0:
                share = want * left / total
                got = np.floor(share).astype(np.int64)
                rest = left - int(got.sum())
                order = np.lexsort((cols, -(share - got)))
                got[order[:rest]] += 1
                out[t, cols] = got
            left = 0
    return out


def _sites(spec: InstanceSpec, seats: int) -> list[Site]:
    shares = np.array(spec.site_shares) / sum(spec.site_shares)
    caps = np.floor(shares * seats).astype(np.int64)
    caps[0] += seats - int(caps.sum())
    return [Site(SITE_NAMES[k], int(c), SHANGHAI) for k, c in enumerate(caps)]


def _agents(
    spec: InstanceSpec,
    rng: np.random.Generator,
    shops: list[Shop],
    brand_of: list[int],
    tiers: NDArray[np.int64],
    demand: NDArray[np.int64],
    sites: list[Site],
    T: int,
) -> list[Agent]:
    n = spec.n_agents
    caps = np.array([s.seat_capacity for s in sites], float)
    site_of = np.repeat(np.arange(len(sites)), np.floor(caps / caps.sum() * n).astype(np.int64))
    site_of = np.concatenate((site_of, np.zeros(n - site_of.size, np.int64)))
    site_of = site_of[rng.permutation(n)]
    level = rng.choice(6, size=n, p=LEVEL_SHARE)
    kind = rng.random(n)
    part_time = kind < spec.part_time_share
    comprehensive = (kind >= spec.part_time_share) & (kind < spec.part_time_share + spec.comprehensive_share)
    level[part_time] = np.minimum(level[part_time], 1)

    platform_demand = np.zeros(len(PLATFORMS))
    for j, shop in enumerate(shops):
        for p, name in enumerate(PLATFORMS):
            if name in shop.required_skills:
                platform_demand[p] += demand[:, j].sum()
    weights = platform_demand / platform_demand.sum()
    skills: list[set[str]] = []
    for _ in range(n):
        count = int(rng.choice(3, p=(0.35, 0.45, 0.20))) + 1
        chosen = rng.choice(len(PLATFORMS), size=count, replace=False, p=weights)
        own = {PLATFORMS[int(c)] for c in chosen}
        if rng.random() < 0.75:
            own.add("presale")
        if rng.random() < 0.55:
            own.add("aftersale")
        skills.append(own)

    # KA teams: the brand's certificate for about team_ratio agents per seat of the brand's peak, seniors
    # first; each member gets a platform of the brand's shops (by their demand) and both queues.
    certs = np.zeros(n, np.int64)
    seniority = np.lexsort((rng.random(n), -level))  # most senior first, random among equals
    for brand in sorted({b for b, t in zip(brand_of, tiers.tolist(), strict=True) if t == 0}):
        cols = [j for j, b in enumerate(brand_of) if b == brand]
        peak = int(demand[:, cols].sum(axis=1).max())
        need = int(np.ceil(spec.team_ratio * peak))
        per_platform = np.zeros(len(PLATFORMS))
        for j in cols:
            for p, name in enumerate(PLATFORMS):
                if name in shops[j].required_skills:
                    per_platform[p] += demand[:, j].sum()
        if per_platform.sum() == 0 or need == 0:
            continue
        share = per_platform / per_platform.sum()
        members = [int(a) for a in seniority if certs[a] == 0 and not part_time[a]][:need]
        for a in members:
            certs[a] += 1
            skills[a].add(f"cert:brand-{brand:02d}")
            skills[a] |= {"presale", "aftersale"}
            # One or two of the brand's platforms, by their demand; at most three platforms in all.
            own_count = min(int(np.count_nonzero(share)), 1 + int(rng.random() < 0.5))
            brand_platforms = {
                PLATFORMS[int(x)] for x in rng.choice(len(PLATFORMS), own_count, False, p=share)
            }
            others = sorted(x for x in skills[a] if x in PLATFORMS and x not in brand_platforms)
            rng.shuffle(others)
            skills[a] -= set(PLATFORMS)
            skills[a] |= brand_platforms | set(others[: max(0, 3 - len(brand_platforms))][:1])
    # Leads and above may hold a second brand's certificate.
    ka_brands = sorted({b for b, t in zip(brand_of, tiers.tolist(), strict=True) if t == 0})
    for a in range(n):
        if certs[a] == 1 and level[a] >= 3 and rng.random() < 0.3 and len(ka_brands) > 1:
            other = ka_brands[int(rng.integers(len(ka_brands)))]
            skills[a].add(f"cert:brand-{other:02d}")

    days = T // 96
    weekday = spec.start.astimezone(ZoneInfo(SHANGHAI)).weekday()
    agents: list[Agent] = []
    for a in range(n):
        rules: LabourRules = CHINA_STANDARD
        cost = LEVEL_COST[int(level[a])] * float(rng.uniform(0.92, 1.08))
        preferred: tuple[Span, ...] = ()
        if part_time[a]:
            rules = CHINA_PART_TIME
            cost = PART_TIME_COST * float(rng.uniform(0.95, 1.05))
            pref = rng.random()
            if pref < 0.3:
                preferred = tuple((96 * d + 72, 96 * d + 96) for d in range(days))  # 18:00-24:00
            elif pref < 0.5:
                preferred = tuple((96 * d + 40, 96 * d + 64) for d in range(days))  # 10:00-16:00
        elif comprehensive[a]:
            rules = CHINA_COMPREHENSIVE_MONTH
        unavailable: tuple[Span, ...] = ()
        u = rng.random()
        if u < spec.leave_share:
            d = int(rng.integers(days))
            unavailable = ((96 * d, 96 * d + 96),)
        elif u < spec.leave_share + spec.partial_leave_share:
            t0 = int(rng.integers(T - 16))
            unavailable = ((t0, t0 + 16),)
        worked_before = rng.random() < 0.85
        consecutive = int(rng.choice(2, p=(0.7, 0.3))) + 1 if worked_before else 0
        # Most ended the day before between 17:00 and 24:00; the night crew (one in ten) in the morning.
        night = rng.random() < 0.1
        last_end = -int(rng.integers(56, 65)) if night else -int(rng.integers(0, 29))
        history = AgentHistory(
            last_shift_end=last_end if worked_before else None,
            consecutive_days=consecutive,
            overtime_minutes_this_month=0 if rules is CHINA_PART_TIME else int(rng.integers(0, 61)) * 15,
            days_worked_this_week=min(consecutive, weekday),
        )
        agents.append(
            Agent(
                id=f"agent-{a:04d}",
                site=int(site_of[a]),
                level=int(level[a]),
                skills=frozenset(skills[a]),
                rules=rules,
                hourly_cost=Decimal(str(round(cost, 2))),
                unavailable=unavailable,
                preferred=preferred,
                history=history,
            )
        )
    return agents
