"""QA reviews: the arithmetic Zendesk QA documents (templates, category and review scores, IQS, pass rate),
plus calibration alignment, coaching effect and category aggregates. Pure, no I/O.

Scores are points on 0-100 throughout; shares (pass rate, coverage) are 0-1.

**Template.** A :class:`Template` holds :class:`Category` items, each with a positive ``weight``, a
:class:`RatingScale` (its selectable values: binary 0/1 or 1..3, 1..4, 1..5 points), a ``critical`` flag and
``na_allowed``.

**Category score** = 100 x (selected - min) / (max - min) of its scale: on a 4-point scale 1, 2, 3, 4 score
0, 33.3, 66.7, 100; binary fail/pass score 0 / 100.

**Review score** = weighted mean of the category scores over the categories that apply. A rating of
``None`` or a category absent from the ratings is N/A (not applicable) and drops out with its weight;
a category with ``na_allowed=False`` must be rated (``ValueError`` otherwise). No category applying: the
review has no score (``None``), and it counts neither in IQS nor in the pass rate. A **critical** category
that applies and scores below 50 zeroes the review (its score is 0, whatever the others say); a critical
category rated N/A does not. The category scores of a zeroed review are kept as they were: category
aggregates and coaching effects see what the reviewer actually rated.

**Dates.** A review belongs to the day its conversation started (``Review.conversation_on``, the scope's
local date), like every other conversation measure: IQS for March is the conversations of March.

**IQS** = mean review score over the period's scored reviews; **pass rate** = share of those scoring at
least :data:`PASS_MARK` (80). Reviews made in a calibration session (``calibration_session_id`` set) never
count in IQS, pass rate, category aggregates or coaching effects.

**Calibration alignment** (:func:`calibration_alignment`): in a session several reviewers grade the same
conversations and one of them is the benchmark. For each other reviewer and each conversation both graded:

- category differences: |their category score - benchmark's| in points, over the categories both rated
  (both not N/A); a category one rated and the other marked N/A is counted in ``na_mismatches`` instead;
- review difference: |their review score - benchmark's| over the conversations where both have a score.

``category_alignment`` = 100 - mean of all the reviewer's category differences (pooled over the session's
conversations), ``review_alignment`` = 100 - mean review difference. The headline ``alignment`` is the
category alignment (review scores can agree while the reviewers disagree on every category in opposite
directions), falling back to the review alignment when no category was rated by both. 100 is perfect
agreement, 0 is the furthest apart two reviewers can be.

**Coaching effect** (:func:`coaching_effect`): mean category score of the coached agent on the coached
categories over the ``window_days`` days after the session minus the same over the ``window_days`` days
before it; the session day itself is in neither window (its conversations may have happened either side
of the session). ``None`` unless both windows hold at least one rating.

**Coaching coverage** (:func:`coaching_coverage`): share of the given agents with at least one coaching
session in the period.

Bulk scoring: :func:`score_matrix` scores a whole template's reviews at once from a (reviews x categories)
array with NaN for N/A; it agrees with :func:`score_review` (tested) and is what a batch should use.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.scorecard.periods import Period

PASS_MARK = 80.0  # a review passes at or above this score
CRITICAL_FAIL_BELOW = 50.0  # a critical category scoring below this zeroes the review

Ratings = Mapping[str, int | None]  # category key -> selected value; None (or absent) is N/A


@dataclass(frozen=True, slots=True)
class RatingScale:
    """The selectable values of a category, ascending; the lowest scores 0 and the highest 100."""

    values: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.values) < 2 or list(self.values) != sorted(set(self.values)):
            raise ValueError(f"a scale needs at least two distinct ascending values, got {self.values}")

    @classmethod
    def binary(cls) -> RatingScale:
        """Fail (0) / pass (1)."""
        return cls((0, 1))

    @classmethod
    def points(cls, count: int) -> RatingScale:
        """A 3-, 4- or 5-point scale: 1..count."""
        if count not in (3, 4, 5):
            raise ValueError(f"point scales have 3, 4 or 5 points, not {count}")
        return cls(tuple(range(1, count + 1)))

    @property
    def minimum(self) -> int:
        return self.values[0]

    @property
    def maximum(self) -> int:
        return self.values[-1]

    def score(self, selected: int) -> float:
        """100 x (selected - min) / (max - min)."""
        if selected not in self.values:
            raise ValueError(f"{selected} is not a value of the scale {self.values}")
        return 100.0 * (selected - self.minimum) / (self.maximum - self.minimum)


@dataclass(frozen=True, slots=True)
class Category:
    key: str
    weight: float
    scale: RatingScale
    critical: bool = False
    na_allowed: bool = True

    def __post_init__(self) -> None:
        if not (self.weight > 0 and math.isfinite(self.weight)):
            raise ValueError(f"category {self.key!r}: weight must be positive, got {self.weight}")


@dataclass(frozen=True, slots=True)
class Template:
    """A QA scorecard template (Zendesk QA calls it a scorecard; here "scorecard" is the balanced one)."""

    key: str
    categories: tuple[Category, ...]

    def __post_init__(self) -> None:
        keys = [c.key for c in self.categories]
        if not keys:
            raise ValueError(f"template {self.key!r} has no categories")
        if len(set(keys)) != len(keys):
            raise ValueError(f"template {self.key!r} repeats a category key")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.categories)


@dataclass(frozen=True, slots=True)
class ReviewScore:
    score: float | None  # None: no category applied
    category_scores: Mapping[str, float]  # applicable categories only, 0-100
    failed_critical: tuple[str, ...]  # critical categories below 50 (the reason a score is 0)


def score_review(template: Template, ratings: Ratings) -> ReviewScore:
    """Score one review's ratings against its template (see the module docstring for the rules)."""
    unknown = set(ratings) - set(template.keys)
    if unknown:
        raise ValueError(f"ratings for categories not in template {template.key!r}: {sorted(unknown)}")
    scores: dict[str, float] = {}
    weighted = weights = 0.0
    failed: list[str] = []
    for category in template.categories:
        selected = ratings.get(category.key)
        if selected is None:
            if not category.na_allowed:
                raise ValueError(f"category {category.key!r} does not allow N/A")
            continue
        score = category.scale.score(selected)
        scores[category.key] = score
        weighted += category.weight * score
        weights += category.weight
        if category.critical and score < CRITICAL_FAIL_BELOW:
            failed.append(category.key)
    if not scores:
        return ReviewScore(None, scores, ())
    # A weighted mean of 100s can come out as 100.00000000000001 in floats: clamp to the scale.
    return ReviewScore(0.0 if failed else min(100.0, weighted / weights), scores, tuple(failed))


@dataclass(frozen=True, slots=True)
class MatrixScores:
    review_scores: NDArray[np.float64]  # (reviews,), NaN: no category applied
    category_scores: NDArray[np.float64]  # (reviews, categories) in template order, NaN: N/A
    failed_critical: NDArray[np.bool_]  # (reviews,): a critical category below 50 zeroed the review


def score_matrix(template: Template, selected: ArrayLike) -> MatrixScores:
    """Score many reviews of one template at once. ``selected`` is (reviews, categories) in the template's
    category order, NaN for N/A. Same rules and same numbers as :func:`score_review`."""
    values = np.asarray(selected, dtype=np.float64)
    n_categories = len(template.categories)
    if values.ndim != 2 or values.shape[1] != n_categories:
        raise ValueError(f"expected (reviews, {n_categories}) ratings, got shape {values.shape}")
    scores = np.full(values.shape, np.nan)
    failed = np.zeros(values.shape[0], dtype=bool)
    weights = np.array([c.weight for c in template.categories])
    for j, category in enumerate(template.categories):
        column = values[:, j]
        na = np.isnan(column)
        if not category.na_allowed and na.any():
            raise ValueError(f"category {category.key!r} does not allow N/A")
        if not np.isin(column[~na], category.scale.values).all():
            raise ValueError(
                f"category {category.key!r} has values outside its scale {category.scale.values}"
            )
        low, high = category.scale.minimum, category.scale.maximum
        scores[:, j] = 100.0 * (column - low) / (high - low)
        if category.critical:
            failed |= ~na & (scores[:, j] < CRITICAL_FAIL_BELOW)
    applies = ~np.isnan(scores)
    weight_sum = (applies * weights).sum(axis=1)
    weighted = (np.where(applies, scores, 0.0) * weights).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        review = np.where(weight_sum > 0, np.minimum(weighted / weight_sum, 100.0), np.nan)
    review[failed] = 0.0
    return MatrixScores(review, scores, failed)


@dataclass(frozen=True, slots=True)
class Review:
    """One reviewer's rating of one conversation. ``calibration_session_id`` set: a calibration review."""

    review_id: str
    template_key: str
    conversation_id: str
    conversation_on: date
    agent_id: str
    reviewer_id: str
    ratings: Ratings
    calibration_session_id: str | None = None


@dataclass(frozen=True, slots=True)
class ScoredReview:
    review: Review
    result: ReviewScore

    @property
    def score(self) -> float | None:
        return self.result.score

    @property
    def counts(self) -> bool:
        """Counts in IQS, pass rate, aggregates and coaching (not a calibration review)."""
        return self.review.calibration_session_id is None


def score_reviews(reviews: Iterable[Review], templates: Mapping[str, Template]) -> list[ScoredReview]:
    return [ScoredReview(r, score_review(templates[r.template_key], r.ratings)) for r in reviews]


@dataclass(frozen=True, slots=True)
class QualitySummary:
    reviews: int  # reviews that count (calibration excluded), scored or not
    scored: int  # of which with a score
    iqs: float | None  # mean review score, 0-100
    pass_rate: float | None  # share of scored reviews >= 80, 0-1


def _counted(scored: Iterable[ScoredReview], period: Period | None) -> Iterable[ScoredReview]:
    for s in scored:
        if s.counts and (period is None or period.contains(s.review.conversation_on)):
            yield s


def _summary(reviews: Sequence[ScoredReview]) -> QualitySummary:
    scores = [s.score for s in reviews if s.score is not None]
    if not scores:
        return QualitySummary(len(reviews), 0, None, None)
    return QualitySummary(
        len(reviews),
        len(scores),
        sum(scores) / len(scores),
        sum(x >= PASS_MARK for x in scores) / len(scores),
    )


def quality_summary(scored: Iterable[ScoredReview], period: Period | None = None) -> QualitySummary:
    """IQS and pass rate over the counted reviews of ``period`` (all dates when None)."""
    return _summary(list(_counted(scored, period)))


def _group_key(review: Review, group_of: Mapping[str, str] | None) -> str | None:
    return review.agent_id if group_of is None else group_of.get(review.agent_id)


def quality_by_group(
    scored: Iterable[ScoredReview], period: Period | None = None, group_of: Mapping[str, str] | None = None
) -> dict[str, QualitySummary]:
    """:func:`quality_summary` per agent (``group_of`` None) or per group of agents (``group_of`` maps an
    agent id to its team, site, ...; agents it does not map are left out)."""
    groups: dict[str, list[ScoredReview]] = defaultdict(list)
    for s in _counted(scored, period):
        key = _group_key(s.review, group_of)
        if key is not None:
            groups[key].append(s)
    return {key: _summary(members) for key, members in groups.items()}


@dataclass(frozen=True, slots=True)
class CategoryAggregate:
    ratings: int  # applicable ratings of the category
    mean_score: float  # 0-100
    below_half: int  # ratings scoring below 50 (a failed critical category is one of these)


def category_aggregates(
    scored: Iterable[ScoredReview], period: Period | None = None, group_of: Mapping[str, str] | None = None
) -> dict[str, dict[str, CategoryAggregate]]:
    """Per group (agent, or ``group_of[agent]``), per category key: rating count, mean category score and
    the count below 50, over the counted reviews of the period."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for s in _counted(scored, period):
        key = _group_key(s.review, group_of)
        if key is None:
            continue
        for category, score in s.result.category_scores.items():
            acc = sums[key, category]
            acc[0] += 1
            acc[1] += score
            acc[2] += score < CRITICAL_FAIL_BELOW
    out: dict[str, dict[str, CategoryAggregate]] = defaultdict(dict)
    for (key, category), (count, total, below) in sums.items():
        out[key][category] = CategoryAggregate(int(count), total / count, int(below))
    return dict(out)


@dataclass(frozen=True, slots=True)
class ReviewerAlignment:
    reviewer_id: str
    conversations: int  # conversations both this reviewer and the benchmark graded in the session
    category_pairs: int  # (conversation, category) pairs both rated
    category_alignment: float | None  # 100 - mean |category score difference|
    review_pairs: int  # conversations where both reviews have a score
    review_alignment: float | None  # 100 - mean |review score difference|
    na_mismatches: int  # categories one rated and the other marked N/A

    @property
    def alignment(self) -> float | None:
        return self.category_alignment if self.category_alignment is not None else self.review_alignment


def calibration_alignment(
    scored: Iterable[ScoredReview], session_id: str, benchmark_reviewer_id: str
) -> dict[str, ReviewerAlignment]:
    """Each non-benchmark reviewer's alignment with the benchmark over a calibration session's reviews
    (reviews of other sessions and normal reviews are ignored). A reviewer who graded none of the
    benchmark's conversations is listed with ``conversations=0`` and no alignment."""
    by_reviewer: dict[str, dict[str, ScoredReview]] = defaultdict(dict)
    for s in scored:
        if s.review.calibration_session_id != session_id:
            continue
        graded = by_reviewer[s.review.reviewer_id]
        if s.review.conversation_id in graded:
            raise ValueError(
                f"reviewer {s.review.reviewer_id!r} graded conversation {s.review.conversation_id!r} twice "
                f"in calibration session {session_id!r}"
            )
        graded[s.review.conversation_id] = s
    benchmark = by_reviewer.pop(benchmark_reviewer_id, {})
    out: dict[str, ReviewerAlignment] = {}
    for reviewer, graded in by_reviewer.items():
        conversations = pairs = review_pairs = na_mismatches = 0
        category_diff = review_diff = 0.0
        for conversation, theirs in graded.items():
            ours = benchmark.get(conversation)
            if ours is None:
                continue
            conversations += 1
            a, b = theirs.result.category_scores, ours.result.category_scores
            for category in a.keys() & b.keys():
                pairs += 1
                category_diff += abs(a[category] - b[category])
            na_mismatches += len(a.keys() ^ b.keys())
            if theirs.score is not None and ours.score is not None:
                review_pairs += 1
                review_diff += abs(theirs.score - ours.score)
        out[reviewer] = ReviewerAlignment(
            reviewer,
            conversations,
            pairs,
            100.0 - category_diff / pairs if pairs else None,
            review_pairs,
            100.0 - review_diff / review_pairs if review_pairs else None,
            na_mismatches,
        )
    return out


@dataclass(frozen=True, slots=True)
class CoachingSession:
    session_id: str
    agent_id: str
    coach_id: str
    held_on: date
    categories: tuple[str, ...]  # the category keys coached


@dataclass(frozen=True, slots=True)
class CoachingEffect:
    session_id: str
    before: Period
    after: Period
    ratings_before: int
    ratings_after: int
    mean_before: float | None
    mean_after: float | None
    change: float | None  # mean_after - mean_before, points; None without ratings on both sides


def coaching_effect(
    session: CoachingSession, scored: Iterable[ScoredReview], window_days: int = 28
) -> CoachingEffect:
    """QA change on the coached categories around one session (see the module docstring)."""
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    before = Period(session.held_on - timedelta(days=window_days), session.held_on - timedelta(days=1))
    after = Period(session.held_on + timedelta(days=1), session.held_on + timedelta(days=window_days))
    coached = set(session.categories)
    sides = {"before": [0, 0.0], "after": [0, 0.0]}
    for s in scored:
        if not s.counts or s.review.agent_id != session.agent_id:
            continue
        day = s.review.conversation_on
        side = "before" if before.contains(day) else "after" if after.contains(day) else None
        if side is None:
            continue
        for category, score in s.result.category_scores.items():
            if category in coached:
                sides[side][0] += 1
                sides[side][1] += score
    (n_before, sum_before), (n_after, sum_after) = sides["before"], sides["after"]
    mean_before = sum_before / n_before if n_before else None
    mean_after = sum_after / n_after if n_after else None
    change = mean_after - mean_before if mean_before is not None and mean_after is not None else None
    return CoachingEffect(
        session.session_id, before, after, int(n_before), int(n_after), mean_before, mean_after, change
    )


def coaching_coverage(
    sessions: Iterable[CoachingSession], agent_ids: Iterable[str], period: Period
) -> float | None:
    """Share of ``agent_ids`` coached at least once in ``period``; None for no agents."""
    agents = set(agent_ids)
    if not agents:
        return None
    coached = {s.agent_id for s in sessions if period.contains(s.held_on)} & agents
    return len(coached) / len(agents)
