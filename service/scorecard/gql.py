"""GraphQL: the balanced scorecard, client ratings, pulses, teams, QA, calibration, coaching, definitions,
thresholds and promotion relaxations. Thin, over scorecard.service; shapes from scorecard.schemas, roles from
scorecard.auth. A brand reads `brandScorecard` and `shopScorecardTrend` (client side only)."""

from __future__ import annotations

import uuid

import strawberry

from service.kit import gql
from service.kit.access import Caller, Session
from service.scorecard import auth, service
from service.scorecard import schemas as shapes

gql.nested_types(
    (shapes.EvidenceRead, "ScorecardEvidence"),
    (shapes.FlagRead, "ScorecardFlag"),
    (shapes.KpiRead, "ScorecardKpi"),
    (shapes.RecoveryRead, "ScorecardRecovery"),
    (shapes.ProcessRead, "ScorecardProcess"),
    (shapes.PulseGroupRead, "PulseGroup"),
    (shapes.RejectedRow, "RejectedPulseRow"),
    (shapes.CategoryFields, "QaCategory"),
    (shapes.CategoryRating, "QaCategoryRating"),
    (shapes.AlignmentRead, "CalibrationAlignment"),
    (shapes.ActionItem, "CoachingActionItem"),
    (shapes.CoachingEffectRead, "CoachingEffect"),
    (shapes.KpiSpecFields, "ScorecardKpiSpec"),
    (shapes.ThresholdValue, "ScorecardThreshold"),
)


@gql.read_type(shapes.ScorecardRead, name="Scorecard")
class ScorecardType: ...


@gql.read_type(shapes.MonthScorecards, name="MonthScorecards")
class MonthType: ...


@gql.read_type(shapes.ClientScorecardRead, name="ClientScorecard")
class ClientType: ...


@gql.read_type(shapes.BrandScorecard, name="BrandScorecard")
class BrandType: ...


@gql.read_type(shapes.ClientRatingRead, name="ClientRating")
class RatingType: ...


@gql.read_type(shapes.PulseImportRead, name="PulseImport")
class PulseImportType: ...


@gql.read_type(shapes.PulseReportRead, name="PulseReport")
class PulseReportType: ...


@gql.read_type(shapes.TeamRead, name="Team")
class TeamType: ...


@gql.read_type(shapes.QaTemplateRead, name="QaTemplate")
class TemplateType: ...


@gql.read_type(shapes.QaReviewRead, name="QaReview")
class ReviewType: ...


@gql.read_type(shapes.CalibrationRead, name="Calibration")
class CalibrationType: ...


@gql.read_type(shapes.CoachingRead, name="Coaching")
class CoachingType: ...


@gql.read_type(shapes.DefinitionRead, name="ScorecardDefinition")
class DefinitionType: ...


@gql.read_type(shapes.ThresholdRead, name="ScorecardThresholds")
class ThresholdType: ...


@gql.read_type(shapes.RelaxationRead, name="PromotionRelaxation")
class RelaxationType: ...


@gql.read_type(shapes.RefreshRead, name="ScorecardRefresh")
class RefreshType: ...


# The inputs: a resolver parameter annotated with a create model is exposed as its input and receives the
# model validated (kit.gql), so no resolver validates by hand.
gql.create_input(shapes.PulseAnswerIn, name="PulseAnswerInput")
gql.create_input(shapes.CategoryFields, name="QaCategoryInput")
gql.create_input(shapes.CategoryRating, name="QaCategoryRatingInput")
gql.create_input(shapes.ActionItem, name="CoachingActionItemInput")
gql.create_input(shapes.KpiSpecFields, name="ScorecardKpiSpecInput")
gql.create_input(shapes.ThresholdValue, name="ScorecardThresholdInput")
gql.create_input(shapes.ClientRatingCreate, name="ClientRatingInput")
gql.update_input(shapes.ClientRatingUpdate, name="ClientRatingUpdateInput")
gql.create_input(shapes.PulseImport, name="PulseImportInput")
gql.create_input(shapes.TeamCreate, name="TeamInput")
gql.create_input(shapes.QaTemplateCreate, name="QaTemplateInput")
gql.create_input(shapes.QaReviewCreate, name="QaReviewInput")
gql.create_input(shapes.CalibrationCreate, name="CalibrationInput")
gql.create_input(shapes.CoachingCreate, name="CoachingInput")
gql.create_input(shapes.DefinitionCreate, name="ScorecardDefinitionInput")
gql.create_input(shapes.ThresholdSet, name="ScorecardThresholdSetInput")


@strawberry.type
class ScorecardQuery:
    @gql.field(
        auth.read, description="A month's scorecards of every scope (or one kind), flags with evidence."
    )
    async def scorecards(
        self, session: Session, month: str | None = None, scope: str | None = None
    ) -> MonthType:
        return gql.of(MonthType, await service.month_scorecards(session, month, scope))

    @gql.field(auth.read, description="One scope's 12 months up to a month.")
    async def scorecard_trend(
        self, session: Session, scope: str, scope_id: str, month: str | None = None
    ) -> list[ScorecardType]:
        return [gql.of(ScorecardType, c) for c in await service.trend(session, scope, scope_id, month)]

    @gql.field(auth.client, description="A brand's client side: the brand and its shops (a client: its own).")
    async def brand_scorecard(
        self, session: Session, caller: Caller, tenant: str, month: str | None = None
    ) -> BrandType:
        return gql.of(BrandType, await service.brand_scorecard(session, caller, tenant, month))

    @gql.field(auth.client, description="A shop's 12 months, client side.")
    async def shop_scorecard_trend(
        self, session: Session, caller: Caller, shop_id: uuid.UUID, month: str | None = None
    ) -> list[ClientType]:
        return [gql.of(ClientType, c) for c in await service.shop_trend(session, caller, shop_id, month)]

    @gql.field(auth.client, description="A month's client ratings (a brand: its own), of one shop if asked.")
    async def client_ratings(
        self, session: Session, caller: Caller, month: str | None = None, tenant: str | None = None,
        shop_id: uuid.UUID | None = None, first: int = 50, after: str | None = None,
    ) -> gql.Page[RatingType]:
        page = gql.page_request(first, after)
        return gql.page(RatingType, await service.list_ratings(session, caller, page, month, tenant, shop_id))

    @gql.field(auth.read, description="A survey's anonymous results; groups below 5 respondents hidden.")
    async def pulse_report(self, session: Session, survey: str) -> PulseReportType:
        return gql.of(PulseReportType, await service.pulse_report(session, survey))

    @gql.field(auth.read, description="Teams by name (of one site), with their members.")
    async def teams(
        self, session: Session, site_id: uuid.UUID | None = None, first: int = 50, after: str | None = None
    ) -> gql.Page[TeamType]:
        return gql.page(TeamType, await service.list_teams(session, gql.page_request(first, after), site_id))

    @gql.field(auth.read, description="QA templates by key, with their categories.")
    async def qa_templates(
        self, session: Session, first: int = 50, after: str | None = None
    ) -> gql.Page[TemplateType]:
        return gql.page(TemplateType, await service.list_templates(session, gql.page_request(first, after)))

    @gql.field(auth.read, description="A month's QA reviews (default: this month), of one agent, team, shop "
               "or reviewer, by conversation day.")
    async def qa_reviews(
        self, session: Session, agent_id: uuid.UUID | None = None, team_id: uuid.UUID | None = None,
        shop_id: uuid.UUID | None = None, reviewer: str | None = None, month: str | None = None,
        first: int = 50, after: str | None = None,
    ) -> gql.Page[ReviewType]:
        filters = shapes.ReviewFilter(month=month, agent_id=agent_id, team_id=team_id, shop_id=shop_id,
                                      reviewer=reviewer)
        page = gql.page_request(first, after)
        return gql.page(ReviewType, await service.list_reviews(session, filters, page))

    @gql.field(auth.read)
    async def calibration(self, session: Session, id: uuid.UUID) -> CalibrationType:
        return gql.of(CalibrationType, await service.get_calibration(session, id))

    @gql.field(auth.read, description="Calibration sessions by day held (in one month), with alignments.")
    async def calibrations(
        self, session: Session, month: str | None = None, first: int = 50, after: str | None = None
    ) -> gql.Page[CalibrationType]:
        page = gql.page_request(first, after)
        return gql.page(CalibrationType, await service.list_calibrations(session, page, month))

    @gql.field(auth.read)
    async def coaching(self, session: Session, id: uuid.UUID) -> CoachingType:
        return gql.of(CoachingType, await service.get_coaching(session, id))

    @gql.field(auth.read, description="Coaching sessions by day held (in one month, of one agent or team, by "
               "one coach), with their effect.")
    async def coaching_sessions(
        self, session: Session, agent_id: uuid.UUID | None = None, team_id: uuid.UUID | None = None,
        coach: str | None = None, month: str | None = None, first: int = 50, after: str | None = None,
    ) -> gql.Page[CoachingType]:
        filters = shapes.CoachingFilter(month=month, agent_id=agent_id, team_id=team_id, coach=coach)
        page = gql.page_request(first, after)
        return gql.page(CoachingType, await service.list_coaching(session, filters, page))

    @gql.field(auth.read, description="The scorecard definitions by the month they take effect from.")
    async def scorecard_definitions(
        self, session: Session, first: int = 50, after: str | None = None
    ) -> gql.Page[DefinitionType]:
        page = gql.page_request(first, after)
        return gql.page(DefinitionType, await service.list_definitions(session, page))


@strawberry.type
class ScorecardMutation:
    @gql.mutation(auth.rate, description="Rate this month, for a shop or the whole brand.")
    async def rate_month(self, session: Session, caller: Caller, input: shapes.ClientRatingCreate
                         ) -> RatingType:
        return gql.of(RatingType, await service.rate(session, caller, input))

    @gql.mutation(auth.rate, description="Change one's own rating until the month's end.")
    async def update_client_rating(
        self, session: Session, caller: Caller, id: uuid.UUID, input: shapes.ClientRatingUpdate
    ) -> RatingType:
        return gql.of(RatingType, await service.update_rating(session, caller, id, input))

    @gql.mutation(auth.write, description="Import pulse answers (idempotent by response id).")
    async def import_pulses(self, session: Session, input: shapes.PulseImport) -> PulseImportType:
        return gql.of(PulseImportType, await service.import_pulses(session, input))

    @gql.mutation(auth.write)
    async def create_team(self, session: Session, input: shapes.TeamCreate) -> TeamType:
        return gql.of(TeamType, await service.create_team(session, input))

    @gql.mutation(auth.write)
    async def create_qa_template(self, session: Session, input: shapes.QaTemplateCreate) -> TemplateType:
        return gql.of(TemplateType, await service.create_template(session, input))

    @gql.mutation(auth.write, description="A QA review, scored as it is written; the same request again (a "
                  "retry) is the stored review, a second review with other answers a CONFLICT.")
    async def create_qa_review(self, session: Session, caller: Caller, input: shapes.QaReviewCreate
                               ) -> ReviewType:
        review, _ = await service.create_review(session, caller, input)
        return gql.of(ReviewType, review)

    @gql.mutation(auth.write)
    async def create_calibration(self, session: Session, input: shapes.CalibrationCreate) -> CalibrationType:
        return gql.of(CalibrationType, await service.create_calibration(session, input))

    @gql.mutation(auth.write)
    async def create_coaching(self, session: Session, caller: Caller, input: shapes.CoachingCreate
                              ) -> CoachingType:
        return gql.of(CoachingType, await service.create_coaching(session, caller, input))

    @gql.mutation(auth.write, description="Compute again the month's facts of shops whose SLA data changed.")
    async def refresh_scorecard_facts(self, session: Session, month: str) -> RefreshType:
        return gql.of(RefreshType, await service.refresh_facts(session, service.parse_month(month)))

    @gql.mutation(auth.write, description="A new version of the scorecard definition.")
    async def add_scorecard_definition(
        self, session: Session, caller: Caller, input: shapes.DefinitionCreate
    ) -> DefinitionType:
        return gql.of(DefinitionType, await service.add_definition(session, caller, input))

    @gql.mutation(auth.write, description="A scope's threshold overrides.")
    async def set_scorecard_thresholds(
        self, session: Session, caller: Caller, scope: str, scope_id: str, input: shapes.ThresholdSet
    ) -> ThresholdType:
        return gql.of(ThresholdType, await service.set_thresholds(session, caller, scope, scope_id, input))

    @gql.mutation(
        auth.write, description="Declare a promotion: relaxed thresholds, then a recovery obligation."
    )
    async def declare_promotion(
        self, session: Session, caller: Caller, promotion_id: uuid.UUID
    ) -> RelaxationType:
        return gql.of(RelaxationType, await service.declare_promotion(session, caller, promotion_id))
