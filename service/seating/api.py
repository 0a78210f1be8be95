"""REST: labour rule sets, the holiday calendar, availability, shops' requirements, rosters (build,
publish, read, coverage as JSON and CSV), shifts and assignments (manual seat moves), agents' iCalendar
feeds, live rebalancing. Thin, over seating.service; roles in seating.auth.

An unknown roster is a 404 for everyone; a roster without the client's shops is an empty page of coverage;
another brand's shop in `?shop=` is a 404.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from service.kit.access import Caller, Session, Sessions
from service.kit.batches import IngestAnswer
from service.kit.pagination import Page, PageRequest, page_params
from service.kit.rest import Resource, delete_route, object_routes
from service.kit.routing import Router
from service.kit.types import Text
from service.seating import auth, schemas, service
from service.settings import get_settings
from service.workforce.models import EmploymentType

router = Router(prefix="/v1", tags=["seating"])
Pages = Annotated[PageRequest, Depends(page_params)]
OneShop = Annotated[uuid.UUID | None, Query(description="One shop's cells")]


# --- labour rules, calendar, availability, requirements ---------------------------------------------------


@router.get("/labour-rule-sets", response_model=Page[schemas.RuleSetRead], summary="Labour rule sets",
            dependencies=[auth.staff.rest])
async def list_rule_sets(session: Session, page: Pages) -> Any:
    return await service.list_rule_sets(session, page)


object_routes(
    router,
    Resource(
        "/labour-rule-sets",
        "rule_set_id",
        uuid.UUID,
        "rule_set",
        schemas.RuleSetRead,
        schemas.RuleSetCreate,
        schemas.RuleSetUpdate,
    ),
    service,
    auth,
    ("One labour rule set", "Add a labour rule set", "Change a labour rule set"),
)


@router.get("/employment-type-rules", response_model=list[schemas.EmploymentTypeRulesRead],
            summary="The rule set of each employment type", dependencies=[auth.staff.rest])
async def list_employment_type_rules(session: Session) -> Any:
    return await service.list_employment_type_rules(session)


@router.put("/employment-types/{employment_type}/rule-set",
            response_model=list[schemas.EmploymentTypeRulesRead],
            summary="Set (or clear) an employment type's rule set", dependencies=[auth.write.rest])
async def set_employment_type_rules(
    session: Session, employment_type: EmploymentType, body: schemas.RuleSetChoice
) -> Any:
    return await service.set_employment_type_rules(session, employment_type, body)


@router.get("/agents/{agent_id}/rule-set", response_model=schemas.AgentRulesRead,
            summary="The rule set an agent works under", dependencies=[auth.staff.rest])
async def agent_rules(session: Session, agent_id: uuid.UUID) -> Any:
    return await service.agent_rules(session, agent_id)


@router.put("/agents/{agent_id}/rule-set", response_model=schemas.AgentRulesRead,
            summary="Set (or clear) an agent's own rule set", dependencies=[auth.write.rest])
async def set_agent_rules(session: Session, agent_id: uuid.UUID, body: schemas.RuleSetChoice) -> Any:
    return await service.set_agent_rules(session, agent_id, body)


@router.get("/holiday-calendars/{year}", response_model=schemas.HolidayCalendarRead,
            summary="A year's holiday calendar", dependencies=[auth.staff.rest])
async def holiday_calendar(session: Session, year: Annotated[int, Path(ge=2000, le=2100)]) -> Any:
    return await service.holiday_calendar(session, year)


@router.put("/holiday-calendars/{year}", response_model=schemas.HolidayCalendarRead,
            summary="Replace a year's holiday calendar", dependencies=[auth.write.rest])
async def set_holiday_calendar(
    session: Session, year: Annotated[int, Path(ge=2000, le=2100)], body: schemas.HolidayCalendarSet
) -> Any:
    return await service.set_holiday_calendar(session, year, body)


@router.get("/agents/{agent_id}/availability", response_model=Page[schemas.AvailabilityRead],
            summary="An agent's leave, unavailability and preferred windows", dependencies=[auth.staff.rest])
async def list_availability(session: Session, agent_id: uuid.UUID, page: Pages) -> Any:
    return await service.list_availability(session, agent_id, page)


@router.post("/agents/{agent_id}/availability", response_model=schemas.AvailabilityRead, status_code=201,
             summary="Add leave, unavailability or a preferred window", dependencies=[auth.write.rest])
async def add_availability(
    session: Session, caller: Caller, agent_id: uuid.UUID, body: schemas.AvailabilityCreate
) -> Any:
    return await service.add_availability(session, caller, agent_id, body)


delete_route(router, "/availability/{availability_id}", "availability_id", service.remove_availability,
             auth.write, "Remove an availability entry")


@router.get("/shops/{shop_id}/requirements", response_model=schemas.RequirementsRead,
            summary="The skills a shop requires of its agents (a client: its own shops)",
            dependencies=[auth.counts.rest])
async def get_requirements(session: Session, caller: Caller, shop_id: uuid.UUID) -> Any:
    return await service.get_requirements(session, caller, shop_id)


@router.put("/shops/{shop_id}/requirements", response_model=schemas.RequirementsRead,
            summary="Set the skills a shop requires beyond its platform", dependencies=[auth.write.rest])
async def set_requirements(
    session: Session, caller: Caller, shop_id: uuid.UUID, body: schemas.RequirementsSet
) -> Any:
    return await service.set_requirements(session, caller, shop_id, body)


# --- rosters ------------------------------------------------------------------------------------------


@router.post("/capacity-plans/{plan_id}/rosters", response_model=schemas.RosterRead, status_code=201,
             summary="Build a draft roster for a plan (fast, or optimise with a time limit)",
             dependencies=[auth.write.rest])
async def create_roster(session: Session, caller: Caller, plan_id: uuid.UUID, body: schemas.RosterCreate
                        ) -> Any:
    return await service.create_roster(session, caller, plan_id, body)


@router.get("/rosters", response_model=Page[schemas.RosterRead], summary="Rosters",
            dependencies=[auth.staff.rest])
async def list_rosters(
    session: Session,
    page: Pages,
    plan: Annotated[uuid.UUID | None, Query(description="Capacity plan id")] = None,
) -> Any:
    return await service.list_rosters(session, page, plan)


@router.get("/rosters/{roster_id}", response_model=schemas.RosterRead, dependencies=[auth.staff.rest],
            summary="A roster with its summaries (coverage, uncovered intervals, hours, cost, solver)")
async def get_roster(session: Session, roster_id: uuid.UUID) -> Any:
    return await service.get_roster(session, roster_id)


@router.post("/rosters/{roster_id}/publish", response_model=schemas.RosterRead,
             dependencies=[auth.write.rest],
             summary="Publish a draft roster (the one it replaces is superseded)")
async def publish_roster(session: Session, caller: Caller, roster_id: uuid.UUID) -> Any:
    return await service.publish_roster(session, caller, roster_id)


@router.get("/rosters/{roster_id}/coverage", response_model=Page[schemas.CoverageCell],
            dependencies=[auth.counts.rest],
            summary="Agents rostered per shop and interval against the plan (a client: its own shops)")
async def coverage(session: Session, caller: Caller, roster_id: uuid.UUID, page: Pages, shop: OneShop = None
                   ) -> Any:
    return await service.coverage(session, caller, roster_id, shop, page)


@router.get("/rosters/{roster_id}/coverage.csv", response_class=StreamingResponse,
            dependencies=[auth.counts.rest], summary="The same cells as CSV, streamed")
async def coverage_csv(
    session: Session, sessions: Sessions, caller: Caller, roster_id: uuid.UUID, shop: OneShop = None
) -> Any:
    await service.coverage_scope(session, caller, roster_id, shop)  # 404 before streaming starts
    name = f"roster-{roster_id}-coverage{'-' + str(shop) if shop else ''}.csv"
    return StreamingResponse(
        service.coverage_csv(sessions, caller, roster_id, shop),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- shifts and assignments ---------------------------------------------------------------------------


@router.get("/shifts", response_model=Page[schemas.ShiftRead], dependencies=[auth.staff.rest],
            summary="Shifts by roster, agent, site, shop and time, in order of their start")
async def list_shifts(
    session: Session,
    page: Pages,
    roster: uuid.UUID | None = None,
    agent: uuid.UUID | None = None,
    site: uuid.UUID | None = None,
    shop: uuid.UUID | None = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    status: Annotated[str | None, Query(pattern="^(draft|published)$")] = None,
) -> Any:
    filters = schemas.ShiftFilter(
        roster_id=roster, agent_id=agent, site_id=site, shop_id=shop, start=start, end=end, status=status
    )
    return await service.list_shifts(session, filters, page)


@router.get("/shifts/{shift_id}", response_model=schemas.ShiftRead, summary="One shift",
            dependencies=[auth.staff.rest])
async def get_shift(session: Session, shift_id: uuid.UUID) -> Any:
    return await service.get_shift(session, shift_id)


@router.post("/shifts", response_model=schemas.ShiftRead, status_code=201, dependencies=[auth.write.rest],
             summary="Place a shift by hand (409 naming the conflicting shift; 422 naming a broken rule)")
async def create_shift(session: Session, caller: Caller, body: schemas.ShiftCreate) -> Any:
    return await service.create_shift(session, caller, body)


@router.patch("/shifts/{shift_id}", response_model=schemas.ShiftRead, dependencies=[auth.write.rest],
              summary="Move a shift")
async def update_shift(session: Session, caller: Caller, shift_id: uuid.UUID, body: schemas.ShiftUpdate
                       ) -> Any:
    return await service.update_shift(session, caller, shift_id, body)


delete_route(router, "/shifts/{shift_id}", "shift_id", service.delete_shift, auth.write, "Remove a shift")


@router.post("/shifts/{shift_id}/assignments", response_model=schemas.AssignmentRead, status_code=201,
             summary="Give a part of a shift to a shop", dependencies=[auth.write.rest])
async def create_assignment(
    session: Session, caller: Caller, shift_id: uuid.UUID, body: schemas.AssignmentCreate
) -> Any:
    return await service.create_assignment(session, caller, shift_id, body)


@router.patch("/assignments/{assignment_id}", response_model=schemas.AssignmentRead,
              summary="Move an assignment", dependencies=[auth.write.rest])
async def update_assignment(
    session: Session, caller: Caller, assignment_id: uuid.UUID, body: schemas.AssignmentUpdate
) -> Any:
    return await service.update_assignment(session, caller, assignment_id, body)


delete_route(router, "/assignments/{assignment_id}", "assignment_id", service.delete_assignment, auth.write,
             "Remove an assignment", with_caller=True)


@router.get("/agents/{agent_id}/schedule.ics", response_class=Response, dependencies=[auth.staff.rest],
            summary="An agent's live shifts as an iCalendar feed (RFC 5545)")
async def agent_schedule(
    session: Session,
    agent_id: uuid.UUID,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
) -> Any:
    body = await service.agent_schedule(session, agent_id, start, end)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="agent-{agent_id}.ics"'},
    )


# --- live KA protection -------------------------------------------------------------------------------


@router.post(
    "/ops/rebalance",
    response_model=schemas.RebalanceRead,
    dependencies=[auth.write.rest],
    summary="Moves protecting KA shops at risk in the next interval, with service levels before/after",
)
async def rebalance(session: Session, body: schemas.RebalanceRequest) -> Any:
    return await service.rebalance(session, body)


@router.post("/ops/rebalance/apply", response_model=schemas.AppliedRead, dependencies=[auth.write.rest],
             summary="Apply moves as assignment changes from the next interval (validated again)")
async def apply_rebalance(session: Session, caller: Caller, body: schemas.RebalanceApply) -> Any:
    return await service.apply_rebalance(session, caller, body)


# --- actual attendance --------------------------------------------------------------------------------

_SESSIONS_DOC = {"requestBody": {
    "required": True,
    "description": "Up to 100,000 work sessions from a platform's attendance export: NDJSON (one "
                   "WorkSessionIn a line) or CSV with a header row naming the same fields.",
    "content": {"application/x-ndjson": {"schema": schemas.WorkSessionIn.model_json_schema(), "example":
                '{"external_id": "ws-1", "agent_code": "A0001", "shop_id": "…", "login": '
                '"2026-11-11T08:58:00+08:00", "logout": "2026-11-11T18:02:00+08:00", "breaks": '
                '[["2026-11-11T12:00:00+08:00", "2026-11-11T13:00:00+08:00"]]}'},
                "text/csv": {"schema": {"type": "string"}}}}}
Day = Annotated[date, Query(alias="from", description="First local day (Asia/Shanghai)")]
EndDay = Annotated[date, Query(alias="to", description="Day after the last (at most 92 days later)")]
Agents = Annotated[list[str] | None, Query(alias="agent", description="Agents' codes (repeat)")]
Shops = Annotated[list[uuid.UUID] | None, Query(alias="shop", description="Shops (repeat)")]


@router.post("/work-sessions", response_model=IngestAnswer, openapi_extra=_SESSIONS_DOC,
             dependencies=[auth.write.rest], max_body_size=get_settings().max_ingest_bytes,
             summary="Ingest work sessions (idempotent by shop and external_id)")
async def ingest_work_sessions(session: Session, caller: Caller, request: Request) -> Any:
    """Good rows are kept even when others are rejected; a re-send changes nothing; a changed session
    replaces its earlier version."""
    max_age = request.app.state.settings.ingest_max_age_days
    return await service.ingest_work_sessions(session, caller, request.stream(),
                                              request.headers.get("content-type"), max_age)


@router.get("/work-sessions", response_model=Page[schemas.WorkSessionRead], dependencies=[auth.staff.rest],
            summary="Stored work sessions by shop, agent and login time")
async def list_work_sessions(
    session: Session, page: Pages, shop: OneShop = None,
    agent: Annotated[Text | None, Query(max_length=32, description="An agent's code")] = None,
    start: Annotated[Text | None, Query(alias="from", max_length=40, description="Logged in at or after: "
                                        "a date or datetime (Asia/Shanghai unless it has an offset)")] = None,
    end: Annotated[Text | None, Query(alias="to", max_length=40, description="Logged in before")] = None,
) -> Any:
    filters = schemas.WorkSessionFilter(shop=shop, agent=agent, start=start, end=end)
    return await service.list_work_sessions(session, filters, page)


@router.get("/attendance/adherence", response_model=list[schemas.AdherenceRow],
            dependencies=[auth.staff.rest],
            summary="Adherence per agent and local day: scheduled against actual minutes")
async def adherence(session: Session, start: Day, end: EndDay, agent: Agents = None) -> Any:
    ids = await service.agent_ids_of(session, agent)
    return await service.adherence_by_agent_day(session, start, end, ids)


@router.get("/attendance/occupancy", response_model=list[schemas.OccupancyRow],
            dependencies=[auth.staff.rest],
            summary="Occupancy per shop and interval: handle time over logged-in time x concurrency")
async def occupancy(session: Session, start: Day, end: EndDay, shop: Shops = None) -> Any:
    return list((await service.occupancy_by_shop_interval(session, (start, end), shop)).rows())


@router.get("/attendance/overtime", response_model=list[schemas.OvertimeRow], dependencies=[auth.staff.rest],
            summary="Actual overtime per agent in a month against the monthly cap")
async def overtime(session: Session, month: Annotated[Text, Query(max_length=7, description="YYYY-MM")],
                   agent: Agents = None) -> Any:
    return await service.overtime_by_agent_month(session, month, await service.agent_ids_of(session, agent))
