"""QA reviews: Zendesk-style reference reviews, the critical rule, N/A, IQS and pass rate, calibration,
coaching; property tests against straightforward loops written here."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.scorecard.periods import Period
from service.scorecard.qa import (
    Category,
    CoachingSession,
    RatingScale,
    Review,
    Template,
    calibration_alignment,
    category_aggregates,
    coaching_coverage,
    coaching_effect,
    quality_by_group,
    quality_summary,
    score_matrix,
    score_review,
    score_reviews,
)

TEMPLATE = Template(
    "chat",
    (
        Category("greeting", 1.0, RatingScale.points(3)),
        Category("solution", 2.0, RatingScale.points(4)),
        Category("tone", 1.0, RatingScale.points(5)),
        Category("compliance", 1.0, RatingScale.binary(), critical=True, na_allowed=False),
    ),
)
TEMPLATES = {"chat": TEMPLATE}


def review(
    rid: str,
    ratings: dict[str, int | None],
    *,
    agent: str = "a1",
    reviewer: str = "r1",
    conversation: str | None = None,
    on: date = date(2025, 3, 10),
    calibration: str | None = None,
) -> Review:
    return Review(rid, "chat", conversation or f"c-{rid}", on, agent, reviewer, ratings, calibration)


# ------------------------------------------------------------------------------------ reference cases


def test_category_scores_on_each_scale():
    assert [RatingScale.points(4).score(v) for v in (1, 2, 3, 4)] == pytest.approx([0, 100 / 3, 200 / 3, 100])
    assert [RatingScale.points(3).score(v) for v in (1, 2, 3)] == [0, 50, 100]
    assert [RatingScale.points(5).score(v) for v in (1, 2, 3, 4, 5)] == [0, 25, 50, 75, 100]
    assert [RatingScale.binary().score(v) for v in (0, 1)] == [0, 100]
    with pytest.raises(ValueError):
        RatingScale.points(4).score(5)
    with pytest.raises(ValueError):
        RatingScale.points(6)


def test_weighted_review_score():
    # greeting 3/3 = 100, solution 3/4 = 66.7 (weight 2), tone 4/5 = 75, compliance pass = 100.
    r = score_review(TEMPLATE, {"greeting": 3, "solution": 3, "tone": 4, "compliance": 1})
    assert r.score == pytest.approx((100 + 2 * 200 / 3 + 75 + 100) / 5)
    assert r.failed_critical == ()


def test_failed_binary_critical_category_zeroes_the_review():
    r = score_review(TEMPLATE, {"greeting": 3, "solution": 4, "tone": 5, "compliance": 0})
    assert r.score == 0.0
    assert r.failed_critical == ("compliance",)
    # The category scores stay what the reviewer rated.
    assert r.category_scores == {"greeting": 100, "solution": 100, "tone": 100, "compliance": 0}


def test_critical_threshold_is_below_half():
    three = Template(
        "t", (Category("x", 1, RatingScale.points(3), critical=True), Category("y", 1, RatingScale.binary()))
    )
    assert score_review(three, {"x": 2, "y": 1}).score == 75  # 50 % is not below 50 %
    four = Template(
        "t", (Category("x", 1, RatingScale.points(4), critical=True), Category("y", 1, RatingScale.binary()))
    )
    assert score_review(four, {"x": 2, "y": 1}).score == 0  # 33 %
    assert score_review(four, {"x": None, "y": 1}).score == 100  # a critical N/A does not zero


def test_na_is_excluded_with_its_weight():
    r = score_review(TEMPLATE, {"greeting": 3, "solution": 3, "tone": None, "compliance": 1})
    assert r.score == pytest.approx((100 + 2 * 200 / 3 + 100) / 4)
    assert "tone" not in r.category_scores
    # Absent means N/A too.
    assert score_review(TEMPLATE, {"greeting": 3, "solution": 3, "compliance": 1}).score == r.score


def test_na_where_not_allowed_unknown_category_and_no_category_applying():
    with pytest.raises(ValueError, match="N/A"):
        score_review(TEMPLATE, {"greeting": 3, "compliance": None})
    with pytest.raises(ValueError, match="not in template"):
        score_review(TEMPLATE, {"greeting": 3, "compliance": 1, "speed": 2})
    all_optional = Template(
        "t", (Category("x", 1, RatingScale.points(5)), Category("y", 2, RatingScale.binary()))
    )
    empty = score_review(all_optional, {"x": None})
    assert empty.score is None and empty.category_scores == {}


def test_iqs_and_pass_rate_exclude_calibration_and_unscored():
    template = Template("chat", (Category("x", 1, RatingScale.points(5)),))
    reviews = [
        Review("1", "chat", "c1", date(2025, 3, 1), "a1", "r1", {"x": 5}),  # 100
        Review("2", "chat", "c2", date(2025, 3, 2), "a1", "r1", {"x": 4}),  # 75
        Review("3", "chat", "c3", date(2025, 3, 3), "a2", "r1", {"x": 2}),  # 25
        Review("4", "chat", "c4", date(2025, 3, 4), "a2", "r1", {"x": None}),  # no score
        Review("5", "chat", "c5", date(2025, 3, 5), "a2", "r1", {"x": 1}, "cal-1"),  # calibration
        Review("6", "chat", "c6", date(2025, 4, 1), "a2", "r1", {"x": 1}),  # April
    ]
    scored = score_reviews(reviews, {"chat": template})
    march = Period.month(date(2025, 3, 1))
    s = quality_summary(scored, march)
    assert (s.reviews, s.scored) == (4, 3)
    assert s.iqs == pytest.approx((100 + 75 + 25) / 3)
    assert s.pass_rate == pytest.approx(1 / 3)  # only 100 >= 80
    by_agent = quality_by_group(scored, march)
    assert by_agent["a1"].iqs == 87.5 and by_agent["a1"].pass_rate == 0.5
    assert by_agent["a2"].iqs == 25 and by_agent["a2"].reviews == 2
    teams = quality_by_group(scored, march, {"a1": "t1", "a2": "t1"})
    assert teams["t1"].iqs == s.iqs
    assert quality_summary([], march).iqs is None


def test_pass_mark_is_inclusive():
    template = Template("chat", (Category("x", 1, RatingScale.points(5)),))
    scored = score_reviews(
        [Review("1", "chat", "c1", date(2025, 3, 1), "a", "r", {"x": 5})], {"chat": template}
    )
    eighty = Template(
        "chat", (Category("x", 4, RatingScale.points(5)), Category("y", 1, RatingScale.binary()))
    )
    scored += score_reviews(
        [Review("2", "chat", "c2", date(2025, 3, 1), "a", "r", {"x": 5, "y": 0})], {"chat": eighty}
    )
    assert scored[1].score == pytest.approx(80)
    assert quality_summary(scored).pass_rate == 1.0


def test_calibration_alignment():
    session = "cal-7"
    graded = [  # (review, ratings, reviewer, conversation)
        ("b1", {"greeting": 3, "solution": 4, "tone": 5, "compliance": 1}, "bench", "c1"),
        ("b2", {"greeting": 1, "solution": 2, "compliance": 1}, "bench", "c2"),
        # x: greeting 50 vs 100, solution 100 vs 100, tone 75 vs 100 on c1; on c2 tone rated, bench said N/A.
        ("x1", {"greeting": 2, "solution": 4, "tone": 4, "compliance": 1}, "x", "c1"),
        ("x2", {"greeting": 1, "solution": 2, "tone": 3, "compliance": 1}, "x", "c2"),
        # y fails compliance on c1: review 0 against 100.
        ("y1", {"greeting": 3, "solution": 4, "tone": 5, "compliance": 0}, "y", "c1"),
    ]
    reviews = [review(rid, ratings, reviewer=who, conversation=c, calibration=session)
               for rid, ratings, who, c in graded]
    # Not in the session: ignored.
    reviews.append(review("z1", {"greeting": 1, "solution": 1, "compliance": 0}, reviewer="x",
                          conversation="c1"))
    alignment = calibration_alignment(score_reviews(reviews, TEMPLATES), session, "bench")
    assert set(alignment) == {"x", "y"}
    x = alignment["x"]
    # Differences: c1 greeting 50, solution 0, tone 25, compliance 0; c2 greeting, solution, compliance 0.
    assert (x.conversations, x.category_pairs, x.na_mismatches) == (2, 7, 1)
    assert x.category_alignment == pytest.approx(100 - 75 / 7)
    c1_bench, c1_x = 100.0, (50 + 200 + 75 + 100) / 5
    c2_bench = (0 + 2 * 100 / 3 + 100) / 4
    c2_x = (0 + 2 * 100 / 3 + 50 + 100) / 5
    assert x.review_alignment == pytest.approx(100 - (abs(c1_x - c1_bench) + abs(c2_x - c2_bench)) / 2)
    assert x.alignment == x.category_alignment
    y = alignment["y"]
    assert y.category_alignment == pytest.approx(100 - 100 / 4)
    assert y.review_alignment == 0.0


def test_calibration_reviews_do_not_count_in_iqs():
    reviews = [
        review("1", {"greeting": 3, "solution": 4, "compliance": 1}),
        review("2", {"greeting": 1, "solution": 1, "compliance": 0}, calibration="cal"),
    ]
    assert quality_summary(score_reviews(reviews, TEMPLATES)).iqs == 100


def test_coaching_effect():
    held = date(2025, 3, 15)
    session = CoachingSession("s1", "a1", "coach", held, ("solution",))

    def r(rid: str, day: date, solution: int, agent: str = "a1", calibration: str | None = None) -> Review:
        return review(
            rid,
            {"greeting": 1, "solution": solution, "compliance": 1},
            agent=agent,
            on=day,
            calibration=calibration,
        )

    reviews = [
        r("1", held - timedelta(days=3), 2),  # 33.3
        r("2", held - timedelta(days=28), 3),  # 66.7 (first day of the before window)
        r("3", held - timedelta(days=29), 1),  # outside
        r("4", held, 1),  # the session day: in neither window
        r("5", held + timedelta(days=2), 4),  # 100
        r("6", held + timedelta(days=28), 4),  # 100 (last day of the after window)
        r("7", held + timedelta(days=5), 1, agent="a2"),  # another agent
        r("8", held + timedelta(days=5), 1, calibration="cal"),  # calibration
    ]
    effect = coaching_effect(session, score_reviews(reviews, TEMPLATES), window_days=28)
    assert (effect.ratings_before, effect.ratings_after) == (2, 2)
    assert effect.mean_before == pytest.approx(50)
    assert effect.mean_after == 100
    assert effect.change == pytest.approx(50)
    nothing_after = coaching_effect(session, score_reviews(reviews[:4], TEMPLATES))
    assert nothing_after.change is None and nothing_after.mean_after is None


def test_category_aggregates_and_coverage():
    reviews = [
        review("1", {"greeting": 3, "solution": 1, "compliance": 0}, agent="a1"),
        review("2", {"greeting": 2, "solution": 4, "compliance": 1}, agent="a1"),
        review("3", {"greeting": 1, "compliance": 1}, agent="a2"),
    ]
    scored = score_reviews(reviews, TEMPLATES)
    per_agent = category_aggregates(scored)
    assert per_agent["a1"]["greeting"].mean_score == 75
    assert per_agent["a1"]["compliance"].below_half == 1
    assert per_agent["a1"]["solution"].ratings == 2
    assert "solution" not in per_agent["a2"]
    per_team = category_aggregates(scored, group_of={"a1": "t", "a2": "t"})
    assert per_team["t"]["greeting"].ratings == 3 and per_team["t"]["greeting"].mean_score == 50
    march = Period.month(date(2025, 3, 1))
    sessions = [
        CoachingSession("s", "a1", "c", date(2025, 3, 2), ("greeting",)),
        CoachingSession("t", "a3", "c", date(2025, 2, 2), ()),
    ]
    assert coaching_coverage(sessions, ["a1", "a2", "a3", "a4"], march) == 0.25
    assert coaching_coverage(sessions, [], march) is None


# ------------------------------------------------------------------------------------ properties

scales = st.sampled_from([(0, 1), (1, 2, 3), (1, 2, 3, 4), (1, 2, 3, 4, 5)])


@st.composite
def templates_and_ratings(draw: st.DrawFn) -> tuple[Template, list[dict[str, int | None]]]:
    n = draw(st.integers(1, 6))
    categories = []
    for j in range(n):
        values = draw(scales)
        categories.append(
            Category(
                f"c{j}",
                draw(st.floats(0.1, 10)),
                RatingScale(values),
                critical=draw(st.booleans()),
                na_allowed=draw(st.booleans()),
            )
        )
    template = Template("t", tuple(categories))
    rows = []
    for _ in range(draw(st.integers(1, 20))):
        row: dict[str, int | None] = {}
        for c in categories:
            options: list[int | None] = list(c.scale.values) + ([None] if c.na_allowed else [])
            row[c.key] = draw(st.sampled_from(options))
        rows.append(row)
    return template, rows


def reference_review_score(template: Template, ratings: dict[str, int | None]) -> float | None:
    total = 0.0
    weights = 0.0
    zeroed = False
    for c in template.categories:
        v = ratings.get(c.key)
        if v is None:
            continue
        lo, hi = min(c.scale.values), max(c.scale.values)
        s = (v - lo) / (hi - lo) * 100
        total += s * c.weight
        weights += c.weight
        if c.critical and s < 50:
            zeroed = True
    if weights == 0:
        return None
    if zeroed:
        return 0.0
    return total / weights


@settings(max_examples=200, deadline=None)
@given(templates_and_ratings())
def test_review_scores_match_reference_and_matrix(case):
    template, rows = case
    matrix = np.array([[np.nan if r[c.key] is None else r[c.key] for c in template.categories] for r in rows])
    bulk = score_matrix(template, matrix)
    for i, row in enumerate(rows):
        expected = reference_review_score(template, row)
        got = score_review(template, row).score
        if expected is None:
            assert got is None and math.isnan(bulk.review_scores[i])
        else:
            assert got == pytest.approx(expected, abs=1e-9)
            assert bulk.review_scores[i] == pytest.approx(expected, abs=1e-9)
        assert 0 <= (got or 0) <= 100


@settings(max_examples=150, deadline=None)
@given(
    templates_and_ratings(),
    st.lists(st.integers(0, 40), min_size=20, max_size=20),
    st.lists(st.booleans(), min_size=20, max_size=20),
)
def test_iqs_and_pass_rate_match_reference(case, day_offsets, calibration):
    template, rows = case
    reviews = [
        Review(
            str(i),
            "t",
            f"c{i}",
            date(2025, 3, 1) + timedelta(days=day_offsets[i]),
            f"a{i % 3}",
            "r",
            row,
            "cal" if calibration[i] else None,
        )
        for i, row in enumerate(rows)
    ]
    scored = score_reviews(reviews, {"t": template})
    march = Period.month(date(2025, 3, 1))
    scores = []
    for rv in reviews:
        if rv.calibration_session_id is None and date(2025, 3, 1) <= rv.conversation_on <= date(2025, 3, 31):
            s = reference_review_score(template, dict(rv.ratings))
            if s is not None:
                scores.append(s)
    summary = quality_summary(scored, march)
    if not scores:
        assert summary.iqs is None and summary.pass_rate is None
    else:
        assert summary.iqs == pytest.approx(sum(scores) / len(scores))
        passed = 0
        for s in scores:
            if s >= 80:
                passed += 1
        assert summary.pass_rate == pytest.approx(passed / len(scores))


@settings(max_examples=150, deadline=None)
@given(
    templates_and_ratings(),
    st.lists(st.integers(0, 3), min_size=20, max_size=20),
    st.lists(st.integers(0, 4), min_size=20, max_size=20),
)
def test_calibration_alignment_matches_reference(case, reviewers, conversations):
    template, rows = case
    reviews = []
    seen = set()
    for i, row in enumerate(rows):
        key = (reviewers[i], conversations[i])
        if key in seen:
            continue
        seen.add(key)
        reviews.append(
            Review(str(i), "t", f"c{conversations[i]}", date(2025, 3, 1), "a", f"r{reviewers[i]}", row, "cal")
        )
    got = calibration_alignment(score_reviews(reviews, {"t": template}), "cal", "r0")
    bench = {r.conversation_id: r for r in reviews if r.reviewer_id == "r0"}

    def category_scores(rv: Review) -> dict[str, float]:
        out = {}
        for c in template.categories:
            v = rv.ratings.get(c.key)
            if v is not None:
                out[c.key] = (v - min(c.scale.values)) / (max(c.scale.values) - min(c.scale.values)) * 100
        return out

    others = {r.reviewer_id for r in reviews} - {"r0"}
    assert set(got) == others
    for reviewer in others:
        diffs, review_diffs = [], []
        for rv in reviews:
            if rv.reviewer_id != reviewer or rv.conversation_id not in bench:
                continue
            b = bench[rv.conversation_id]
            mine, theirs = category_scores(rv), category_scores(b)
            for k in mine:
                if k in theirs:
                    diffs.append(abs(mine[k] - theirs[k]))
            s1, s2 = (
                reference_review_score(template, dict(rv.ratings)),
                reference_review_score(template, dict(b.ratings)),
            )
            if s1 is not None and s2 is not None:
                review_diffs.append(abs(s1 - s2))
        a = got[reviewer]
        if diffs:
            assert a.category_alignment == pytest.approx(100 - sum(diffs) / len(diffs))
        else:
            assert a.category_alignment is None
        if review_diffs:
            assert a.review_alignment == pytest.approx(100 - sum(review_diffs) / len(review_diffs))
        else:
            assert a.review_alignment is None


@settings(max_examples=150, deadline=None)
@given(
    templates_and_ratings(),
    st.lists(st.integers(-40, 40), min_size=20, max_size=20),
    st.lists(st.booleans(), min_size=20, max_size=20),
    st.integers(1, 30),
)
def test_coaching_effect_matches_reference(case, offsets, other_agent, window):
    template, rows = case
    held = date(2025, 3, 15)
    coached = template.keys[:2]
    reviews = [
        Review(
            str(i), "t", f"c{i}", held + timedelta(days=offsets[i]), "b" if other_agent[i] else "a", "r", row
        )
        for i, row in enumerate(rows)
    ]
    effect = coaching_effect(
        CoachingSession("s", "a", "coach", held, coached), score_reviews(reviews, {"t": template}), window
    )
    before, after = [], []
    for rv, row in zip(reviews, rows, strict=True):
        if rv.agent_id != "a":
            continue
        delta = (rv.conversation_on - held).days
        for c in template.categories:
            v = row.get(c.key)
            if c.key not in coached or v is None:
                continue
            score = (v - min(c.scale.values)) / (max(c.scale.values) - min(c.scale.values)) * 100
            if -window <= delta <= -1:
                before.append(score)
            elif 1 <= delta <= window:
                after.append(score)
    assert (effect.ratings_before, effect.ratings_after) == (len(before), len(after))
    if before and after:
        assert effect.change == pytest.approx(sum(after) / len(after) - sum(before) / len(before))
    else:
        assert effect.change is None
