"""The scorecard demo, on top of the others (service.demo), relative to the day it is loaded and reproducible
from a seed:

- teams of about ten agents per site, each with its lead and supervisor;
- a scorecard definition calibrated on the demo's peers (MetricNet style: worst and best from the spread of
  the shops), in force from the history's first month (the months before keep the standard one);
- the story's peak (Double 11 when the history holds one) declared: its days are judged by the relaxed
  thresholds (occupancy above 95 %, a whole overtime cap for the promotion's days) and its recovery
  (occupancy back under 90 %, overtime compensated: time off in lieu, or the window's overtime within its
  share of the cap) is tracked in the two weeks after it. The attendance (service.seating.demo) staffs the
  floors for the conversations' load: Hangzhou alone serves the KA shops on the peak's days at about 95 %
  occupancy (each KA shop BURN on its intervals above 95 %; the floor's own occupancy, which mixes them with
  its calm shop and its burning agents' quiet hours, stays under it) while a few of its agents work 12-hour
  days over the overtime cap, so its site is BURN on those agents' overtime, each against its own 36 h cap
  (on the ordinary days of the run-up and the returns, and over the relaxed cap on the peak's days), and the
  eNPS drop, and its recovery is tracked (occupancy back under 90 %; the window's overtime within its share
  of the cap, though the burning agents took no time off in lieu); the other floors, staffed to at most
  88 %, are not flagged BURN;
- monthly anonymous pulses: the Hangzhou floor's eNPS falls by 25 points in the peak's month (the team ran
  hot while the KA shops' SLAs were met: BURN), then recovers part of the way; one two-person team's answers
  are hidden (fewer than 5 respondents);
- client ratings every month (the brands are mostly happy; 墨叶文具店, calm and answered in time but with
  unhappy buyers, is rated 2: SERVICE RISK);
- QA reviews on a five-category template (two critical), one calibration session in the peak's month, and
  coaching sessions on accuracy in the month before the peak whose effect shows in the peak month's QA;
- the facts of every month of the history computed (SLA day verdicts per shop).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from service.kit.db import Database
from service.kit.identity import OPERATOR
from service.scorecard import qa, service
from service.scorecard import schemas as shapes
from service.scorecard.models import (
    CalibrationSession,
    ClientRating,
    CoachingSession,
    PromotionRelaxation,
    PulseAnswer,
    PulseSurvey,
    ScorecardDefinitionRow,
)
from service.scorecard.periods import add_months

SEED = 1313
HOT_SITE = "Hangzhou"
UNHAPPY_SHOP = "墨叶文具店"
CALIBRATED = [  # key, side, worst, best (or band), weight
    ("sla_attainment", "client", 0.5, 0.95, 3),
    ("csat", "client", 0.70, 0.93, 2),
    ("dsat", "client", 0.25, 0.04, 1),
    ("conversion", "client", 0.15, 0.42, 2),
    ("client_rating", "client", 1.0, 5.0, 3),
    ("enps", "employee", -40.0, 40.0, 3),
    ("wellbeing", "employee", 2.0, 4.5, 2),
    ("attrition", "employee", 1.0, 0.1, 2),
    ("overtime_vs_cap", "employee", 1.2, 0.25, 2),
    ("occupancy", "employee", [0.3, 0.6, 0.85, 1.0], None, 2),
    ("qa_iqs", "process", 55.0, 92.0, 2),
    ("coaching_coverage", "process", 0.0, 0.5, 1),
]
# Shares of promoters (9-10), passives (7-8) and detractors (0-6) of a team's answers.
MOODS = {"calm": (0.55, 0.35, 0.10), "peak": (0.15, 0.40, 0.45), "after": (0.35, 0.40, 0.25)}
CATEGORIES = [  # key, name, weight, points, critical
    ("greeting", "问候与称呼", 1.0, 2, False),
    ("accuracy", "信息准确", 3.0, 5, True),
    ("empathy", "共情与语气", 2.0, 4, False),
    ("resolution", "一次解决", 2.0, 3, False),
    ("compliance", "合规话术", 1.0, 2, True),
]


def _kpi(key: str, side: str, worst: Any, best: Any, weight: float) -> dict[str, Any]:
    if isinstance(worst, list):
        return {"key": key, "side": side, "weight": weight, "band": worst}
    return {"key": key, "side": side, "weight": weight, "worst": worst, "best": best}


async def load_scorecard_demo(
    db: Database, today: date, first_day: date, peak: tuple[str, date, date], seed: int = SEED
) -> dict[str, Any]:
    """The scorecard's demo data over the history [FIRST_DAY, TODAY) around the story's PEAK (name, start,
    end), then every month's facts (load_scorecard_setup, then refresh_demo_facts: service.demo runs them
    as two parts, the setup beside the others); returns what the story's test checks."""
    summary = await load_scorecard_setup(db, today, first_day, peak, seed)
    await refresh_demo_facts(db, summary["months"])
    return summary


async def refresh_demo_facts(db: Database, months: Sequence[str], sla_only: bool = False) -> None:
    """The facts of MONTHS (ISO first days) computed, each month in a transaction of its own, side by side
    (a month's facts read and write only its own days): PostgreSQL reads or writes one while Python computes
    another. SLA_ONLY: every shop's SLA day facts alone (they need only the history, so service.demo computes
    them while the attendance loads; a refresh after finds them current and computes the attendance's)."""

    async def refresh(month: date) -> None:
        async with db.system_transaction() as session:
            every = (await session.execute(text("SELECT id FROM shops"))).scalars() if sla_only else None
            await service.refresh_facts(session, month, None if every is None else list(every))

    async with asyncio.TaskGroup() as group:
        for month in months:
            group.create_task(refresh(date.fromisoformat(month)))


async def load_scorecard_setup(
    db: Database, today: date, first_day: date, peak: tuple[str, date, date], seed: int = SEED
) -> dict[str, Any]:
    """The scorecard's demo data but the facts (load_scorecard_demo), in one transaction: it reads only the
    sites, agents, shops and the story's peak as a promotion, so it loads beside the history and the
    attendance; returns what the story's test checks."""
    rng = random.Random(seed)
    first = first_day.replace(day=1)
    months = [add_months(first, k) for k in range(12) if add_months(first, k) < today]
    peak_name, peak_start, peak_end = peak
    peak_month = peak_start.replace(day=1)
    async with db.system_transaction() as session:
        sites = {
            city: (sid, name)
            for sid, name, city in await session.execute(
                text("SELECT id, name, city FROM sites ORDER BY name")
            )
        }
        agents = (
            await session.execute(
                text("SELECT id, site_id, level, hired_on, left_on FROM agents ORDER BY code")
            )
        ).all()
        shops = (
            await session.execute(text("SELECT s.tenant_id, s.id, s.name FROM shops s ORDER BY s.name"))
        ).all()
        # teams: about ten agents each, led by the site's leads and supervised by its supervisors
        teams: dict[uuid.UUID, list[uuid.UUID]] = {}
        team_site: dict[uuid.UUID, uuid.UUID] = {}
        for city, (site_id, site_name) in sites.items():
            members: list[Any] = [a for a in agents if a.site_id == site_id]
            leads = [a.id for a in members if a.level == "lead"] or [members[0].id]
            bosses = [a.id for a in members if a.level in ("supervisor", "manager")] or [None]
            size = max(2, len(members) // max(1, len(members) // 10))
            chunks = [members[i : i + size] for i in range(0, len(members), size)]
            if len(chunks) > 1 and city == "Chengdu":  # a two-person team: its pulse breakdown stays hidden
                chunks.append([chunks[-1].pop(), chunks[-1].pop()])
            for k, chunk in enumerate(chunks):
                body = shapes.TeamCreate(
                    site_id=site_id,
                    name=f"{site_name[:2]}{k + 1}组",
                    lead_id=leads[k % len(leads)],
                    supervisor_id=bosses[k % len(bosses)],
                    members=[a.id for a in chunk],
                )
                team = await service.create_team(session, body)
                teams[team.id] = [a.id for a in chunk]
                team_site[team.id] = site_id
        # a definition calibrated on the peers, from the history's first month
        session.add(
            ScorecardDefinitionRow(
                version="demo-peers-1",
                effective_from=first,
                headline="geometric",
                kpis=[_kpi(*k) for k in CALIBRATED],
                created_by=OPERATOR.subject,
            )
        )
        # the story's peak declared: relaxed thresholds on its days, a recovery obligation after
        promotion_id = (
            await session.execute(
                text("SELECT id FROM promotions WHERE name = :n AND start_date = :s"),
                {"n": peak_name, "s": peak_start},
            )
        ).scalar_one()
        session.add(PromotionRelaxation(promotion_id=promotion_id, declared_by=OPERATOR.subject))
        # pulses: one survey per month; the hot floor's eNPS drops in the peak's month
        hot_site = sites[HOT_SITE][0]
        for month in months:
            survey = PulseSurvey(name=f"{month:%Y-%m} 员工脉搏", month=month)
            session.add(survey)
            await session.flush()
            rows: list[dict[str, Any]] = []
            for team_id, members in teams.items():
                hot = team_site[team_id] == hot_site
                shares = (
                    MOODS["peak" if month == peak_month else "after" if month > peak_month else "calm"]
                    if hot
                    else MOODS["calm"]
                )
                answering = [i for i in range(len(members)) if len(members) <= 2 or rng.random() < 0.85]
                n = len(answering)
                promoters, detractors = round(n * shares[0]), round(n * shares[2])
                for rank, i in enumerate(answering):
                    score = rng.choice(
                        (9, 10) if rank < promoters else (0, 3, 5, 6) if rank >= n - detractors else (7, 8)
                    )
                    well = max(1, min(5, round(rng.gauss(4.0 if score >= 7 else 2.8, 0.5))))
                    rows.append(
                        {
                            "survey_id": survey.id,
                            "response_id": f"{month:%Y%m}-{team_id.hex}-{i}",
                            "site_id": team_site[team_id],
                            "team_id": team_id,
                            "recommend": score,
                            "wellbeing": well,
                        }
                    )
            session.add_all(PulseAnswer(**r) for r in rows)
        # client ratings: mostly content; the unhappy shop's brand rates it 2
        for month in months:
            for tenant_id, shop_id, name in shops:
                score = 2 if name == UNHAPPY_SHOP else rng.choice((4, 4, 5, 5, 5))
                comment = "回复是及时的，但买家总是不满意" if name == UNHAPPY_SHOP else None
                session.add(
                    ClientRating(
                        tenant_id=tenant_id,
                        shop_id=shop_id,
                        month=month,
                        rater="demo-brand-user",
                        score=score,
                        comment=comment,
                    )
                )
        # QA: a template, reviews every month, a calibration in the peak month, coaching before the last month
        template = await service.create_template(
            session,
            shapes.QaTemplateCreate(
                key="chat-standard",
                name="在线客服标准质检",
                categories=[
                    shapes.CategoryFields(key=k, name=n, weight=w, points=p, critical=c)
                    for k, n, w, p, c in CATEGORIES
                ],
            ),
        )
        model = qa.Template(
            "chat-standard",
            tuple(
                qa.Category(k, w, qa.RatingScale.binary() if p == 2 else qa.RatingScale.points(p), c)
                for k, _, w, p, c in CATEGORIES
            ),
        )
        employed = [a for a in agents if a.left_on is None or a.left_on >= first]
        skill = {a.id: rng.uniform(0.45, 0.95) for a in employed}
        coached_month = add_months(peak_month, -1)  # its effect shows in the peak month's QA
        coach_day = coached_month + timedelta(days=19)
        coached = sorted(employed, key=lambda a: skill[a.id])[:8]
        coached_ids = {a.id for a in coached}
        reviews: list[Any] = []
        last_day = today - timedelta(days=1)

        def rating(category: str, p: int, s: float) -> int:
            top = 1 if p == 2 else p
            low = 0 if p == 2 else 1
            return max(low, min(top, round(low + (top - low) * min(1.0, max(0.0, rng.gauss(s, 0.18))))))

        for month in months:
            for a in employed:
                for k in range(3):
                    day = month + timedelta(days=rng.randrange(0, 27))
                    if day > last_day or day < a.hired_on or (a.left_on and day > a.left_on):
                        continue
                    tenant_id, shop_id, _ = shops[rng.randrange(len(shops))]
                    s = skill[a.id]
                    if a.id in coached_ids and day > coach_day:
                        s = min(0.97, s + 0.3)  # the coaching shows
                    ratings: dict[str, int | None] = {
                        c: rating(c, p, s if c == "accuracy" else s + 0.1) for c, _, _, p, _ in CATEGORIES
                    }
                    if rng.random() < 0.3:
                        ratings["compliance"] = None  # N/A: nothing regulated was discussed
                    reviews.append(service.review_row(
                        model, template.id, tenant_id, shop_id, f"demo-qa-{a.id.hex}-{day}-{k}", day, a.id,
                        f"qa-{rng.randrange(1, 4)}", ratings))
        session.add_all(reviews)
        calibration = CalibrationSession(
            name=f"{peak_name} 校准会",
            held_on=min(peak_end + timedelta(days=3), last_day),
            benchmark_reviewer="qa-lead",
        )
        session.add(calibration)
        await session.flush()
        picked = rng.sample(reviews, 5)
        for reviewer, noise in (("qa-lead", 0.0), ("qa-1", 0.08), ("qa-2", 0.25)):
            for r in picked:
                ratings = {
                    c: (v if v is None or rng.random() > noise else max(0 if p == 2 else 1, v - 1))
                    for (c, v), (_, _, _, p, _) in zip(r.ratings.items(), CATEGORIES, strict=True)
                }
                session.add(service.review_row(
                    model, template.id, r.tenant_id, r.shop_id, r.conversation_id, r.conversation_on,
                    r.agent_id, reviewer, ratings, calibration.id))
        coachings = []
        for a in coached:
            row = CoachingSession(
                agent_id=a.id,
                coach="qa-lead",
                held_on=coach_day,
                template_id=template.id,
                areas=["accuracy"],
                review_ids=[r.id for r in reviews if r.agent_id == a.id and r.conversation_on < coach_day][
                    :2
                ],
                shared_notes="下单前逐项核对规格与库存；不确定时先查知识库",
                private_notes="节后跟进情绪",
                action_items=[
                    {
                        "text": "复盘三单错误回复",
                        "due_on": (coach_day + timedelta(days=7)).isoformat(),
                        "done": False,
                    }
                ],
                follow_up_on=coach_day + timedelta(days=21),
            )
            session.add(row)
            coachings.append(row)
        await session.flush()
    return {
        "teams": len(teams),
        "months": [m.isoformat() for m in months],
        "peak_month": peak_month,
        "reviews": len(reviews),
        "calibration_id": calibration.id,
        "coached": sorted(coached_ids),
        "coaching_ids": [c.id for c in coachings],
        "coached_month": coached_month,
    }
