"""REST: the balanced scorecard (staff: every scope; a brand: the client side of its own), client ratings,
pulses (CSV import with a rejected-row report), teams, QA, calibration, coaching, definitions, thresholds and
promotion relaxations. Thin, over scorecard.service; roles in scorecard.auth. Months travel as YYYY-MM."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response

from service.kit.access import Caller, Session
from service.kit.errors import Invalid
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.routing import Router
from service.kit.types import TenantKey, Text
from service.scorecard import auth, service
from service.scorecard import schemas as shapes

router = Router(tags=["scorecard"])
Month = Annotated[Text | None, Query(max_length=7, description="A month, YYYY-MM (default: this month)")]
AnyMonth = Annotated[Text | None, Query(max_length=7, description="A month, YYYY-MM (default: every month)")]
Pages = Annotated[PageRequest, Depends(page_params)]
Name = Annotated[Text | None, Query(max_length=200)]
Scope = Annotated[Text, Path(max_length=8, description="shop, brand, site, team or agent")]
MAX_CSV = 2 * 1024 * 1024


@router.get("/v1/scorecards", response_model=shapes.MonthScorecards, dependencies=[auth.read.rest],
            summary="A month's scorecards of every scope (or one kind), with flags and their evidence")
async def month_scorecards(
    session: Session, month: Month = None, scope: Annotated[Text | None, Query(max_length=8)] = None
) -> Any:
    return await service.month_scorecards(session, month, scope)


@router.post("/v1/scorecards/{month}/refresh", response_model=shapes.RefreshRead,
             dependencies=[auth.write.rest],
             summary="Compute again the month's facts of the shops whose SLA data changed")
async def refresh(session: Session, month: Annotated[Text, Path(max_length=7)]) -> Any:
    return await service.refresh_facts(session, service.parse_month(month))


@router.get("/v1/scorecards/{scope}/{scope_id}/trend", response_model=list[shapes.ScorecardRead],
            dependencies=[auth.read.rest], summary="One scope's 12 months up to a month")
async def trend(
    session: Session, scope: Scope, scope_id: Annotated[Text, Path(max_length=64)], month: Month = None
) -> Any:
    return await service.trend(session, scope, scope_id, month)


@router.get("/v1/tenants/{tenant}/scorecard", response_model=shapes.BrandScorecard,
            dependencies=[auth.client.rest], summary="A brand's client side: the brand and its shops")
async def brand_scorecard(session: Session, caller: Caller, tenant: TenantKey, month: Month = None) -> Any:
    return await service.brand_scorecard(session, caller, tenant, month)


@router.get("/v1/shops/{shop_id}/scorecard-trend", response_model=list[shapes.ClientScorecardRead],
            dependencies=[auth.client.rest], summary="A shop's 12 months, client side")
async def shop_trend(session: Session, caller: Caller, shop_id: uuid.UUID, month: Month = None) -> Any:
    return await service.shop_trend(session, caller, shop_id, month)


@router.post("/v1/client-ratings", response_model=shapes.ClientRatingRead, status_code=201,
             dependencies=[auth.rate.rest], summary="Rate this month, for a shop or the whole brand")
async def rate(session: Session, caller: Caller, body: shapes.ClientRatingCreate) -> Any:
    return await service.rate(session, caller, body)


@router.patch("/v1/client-ratings/{rating_id}", response_model=shapes.ClientRatingRead,
              dependencies=[auth.rate.rest], summary="Change one's own rating until the month's end")
async def update_rating(
    session: Session, caller: Caller, rating_id: uuid.UUID, body: shapes.ClientRatingUpdate
) -> Any:
    return await service.update_rating(session, caller, rating_id, body)


@router.get("/v1/client-ratings", response_model=Page[shapes.ClientRatingRead],
            dependencies=[auth.client.rest], summary="A month's ratings (a brand: its own), of one shop")
async def list_ratings(session: Session, caller: Caller, page: Pages, month: Month = None,
                       tenant: Annotated[Text | None, Query(max_length=100)] = None,
                       shop: uuid.UUID | None = None) -> Any:
    return await service.list_ratings(session, caller, page, month, tenant, shop)


@router.post("/v1/pulses", response_model=shapes.PulseImportRead, dependencies=[auth.write.rest],
             summary="Import pulse answers: JSON, or a survey tool's CSV export (?survey=&month=)")
async def import_pulses(
    session: Session,
    request: Request,
    survey: Annotated[Text | None, Query(max_length=200)] = None,
    month: Month = None,
) -> Any:
    if request.headers.get("content-type", "").startswith("text/csv"):
        body = await request.body()
        if len(body) > MAX_CSV:
            raise Invalid("body", f"at most {MAX_CSV} bytes")
        if not survey or not month:
            raise Invalid("survey", "a CSV import names its survey and month")
        answers, rejected = service.parse_pulse_csv(body)
        data = shapes.PulseImport.model_construct(survey=survey, month=month, answers=answers)
        return await service.import_pulses(session, data, rejected)
    try:
        data = shapes.PulseImport.model_validate_json(await request.body())
    except ValueError:
        raise Invalid("body", "a JSON pulse import, or text/csv") from None
    return await service.import_pulses(session, data)


@router.get("/v1/pulses/{survey}", response_model=shapes.PulseReportRead, dependencies=[auth.read.rest],
            summary="A survey's anonymous results; groups below 5 respondents hidden")
async def pulse_report(session: Session, survey: Annotated[Text, Path(max_length=200)]) -> Any:
    return await service.pulse_report(session, survey)


@router.post("/v1/teams", response_model=shapes.TeamRead, status_code=201, dependencies=[auth.write.rest],
             summary="A team with its lead, supervisor and members")
async def create_team(session: Session, body: shapes.TeamCreate) -> Any:
    return await service.create_team(session, body)


@router.get("/v1/teams", response_model=Page[shapes.TeamRead], dependencies=[auth.read.rest],
            summary="Teams by name (of one site), with their members")
async def list_teams(session: Session, page: Pages, site: uuid.UUID | None = None) -> Any:
    return await service.list_teams(session, page, site)


@router.post("/v1/qa/templates", response_model=shapes.QaTemplateRead, status_code=201,
             dependencies=[auth.write.rest], summary="A QA template and its categories")
async def create_template(session: Session, body: shapes.QaTemplateCreate) -> Any:
    return await service.create_template(session, body)


@router.get("/v1/qa/templates", response_model=Page[shapes.QaTemplateRead], dependencies=[auth.read.rest],
            summary="QA templates by key, with their categories")
async def list_templates(session: Session, page: Pages) -> Any:
    return await service.list_templates(session, page)


@router.post("/v1/qa/reviews", response_model=shapes.QaReviewRead, status_code=201,
             dependencies=[auth.write.rest], summary="A QA review, scored as it is written",
             responses={200: {"description": "The stored review this request repeats (a retry: the same "
                                             "reviewer, conversation and answers), not written again"}})
async def create_review(session: Session, caller: Caller, body: shapes.QaReviewCreate,
                        response: Response) -> Any:
    review, written = await service.create_review(session, caller, body)
    if not written:
        response.status_code = 200
    return review


@router.get("/v1/qa/reviews", response_model=Page[shapes.QaReviewRead], dependencies=[auth.read.rest],
            summary="A month's QA reviews (of one agent, team, shop or reviewer), by conversation day")
async def list_reviews(session: Session, page: Pages, agent: uuid.UUID | None = None,
                       team: uuid.UUID | None = None, shop: uuid.UUID | None = None, reviewer: Name = None,
                       month: Month = None) -> Any:
    filters = shapes.ReviewFilter(month=month, agent_id=agent, team_id=team, shop_id=shop, reviewer=reviewer)
    return await service.list_reviews(session, filters, page)


@router.post("/v1/qa/calibrations", response_model=shapes.CalibrationRead, status_code=201,
             dependencies=[auth.write.rest], summary="A calibration session")
async def create_calibration(session: Session, body: shapes.CalibrationCreate) -> Any:
    return await service.create_calibration(session, body)


@router.get("/v1/qa/calibrations", response_model=Page[shapes.CalibrationRead], dependencies=[auth.read.rest],
            summary="Calibration sessions by day held (in one month), with each reviewer's alignment")
async def list_calibrations(session: Session, page: Pages, month: AnyMonth = None) -> Any:
    return await service.list_calibrations(session, page, month)


@router.get("/v1/qa/calibrations/{calibration_id}", response_model=shapes.CalibrationRead,
            dependencies=[auth.read.rest], summary="A calibration session with each reviewer's alignment")
async def get_calibration(session: Session, calibration_id: uuid.UUID) -> Any:
    return await service.get_calibration(session, calibration_id)


@router.post("/v1/coaching", response_model=shapes.CoachingRead, status_code=201,
             dependencies=[auth.write.rest], summary="A coaching session")
async def create_coaching(session: Session, caller: Caller, body: shapes.CoachingCreate) -> Any:
    return await service.create_coaching(session, caller, body)


@router.get("/v1/coaching", response_model=Page[shapes.CoachingRead], dependencies=[auth.read.rest],
            summary="Coaching sessions by day held (in one month, of one agent or team, by one coach)")
async def list_coaching(session: Session, page: Pages, agent: uuid.UUID | None = None,
                        team: uuid.UUID | None = None, coach: Name = None, month: AnyMonth = None) -> Any:
    filters = shapes.CoachingFilter(month=month, agent_id=agent, team_id=team, coach=coach)
    return await service.list_coaching(session, filters, page)


@router.get("/v1/coaching/{coaching_id}", response_model=shapes.CoachingRead, dependencies=[auth.read.rest],
            summary="A coaching session with its effect on the coached categories")
async def get_coaching(session: Session, coaching_id: uuid.UUID) -> Any:
    return await service.get_coaching(session, coaching_id)


@router.get("/v1/scorecard/definitions", response_model=Page[shapes.DefinitionRead],
            dependencies=[auth.read.rest], summary="The scorecard definitions by effective month")
async def list_definitions(session: Session, page: Pages) -> Any:
    return await service.list_definitions(session, page)


@router.post("/v1/scorecard/definitions", response_model=shapes.DefinitionRead, status_code=201,
             dependencies=[auth.write.rest], summary="A new version of the scorecard definition")
async def add_definition(session: Session, caller: Caller, body: shapes.DefinitionCreate) -> Any:
    return await service.add_definition(session, caller, body)


@router.put("/v1/scorecard/thresholds/{scope}/{scope_id}", response_model=shapes.ThresholdRead,
            dependencies=[auth.write.rest], summary="A scope's threshold overrides")
async def set_thresholds(session: Session, caller: Caller, scope: Scope,
                         scope_id: Annotated[Text, Path(max_length=64)], body: shapes.ThresholdSet) -> Any:
    return await service.set_thresholds(session, caller, scope, scope_id, body)


@router.post("/v1/scorecard/promotions/{promotion_id}", response_model=shapes.RelaxationRead,
             dependencies=[auth.write.rest], summary="Declare a promotion: relaxed thresholds, then recovery")
async def declare_promotion(session: Session, caller: Caller, promotion_id: uuid.UUID) -> Any:
    return await service.declare_promotion(session, caller, promotion_id)
