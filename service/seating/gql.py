"""GraphQL: labour rule sets, the holiday calendar, availability, shops' requirements, rosters and their
coverage, shifts and assignments, live rebalancing. Thin, over seating.service; shapes from seating.schemas,
roles from seating.auth. (The iCalendar feed and the CSV export are REST's: they are files.)"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from service.conversations.gql import IngestResultType  # the one ingest answer, both feeds
from service.kit import gql
from service.kit.access import Caller, Session
from service.seating import auth, schemas, service
from service.seating.rules import HoursSystem
from service.workforce.models import EmploymentType

strawberry.enum(HoursSystem, name="HoursSystem")
strawberry.enum(
    schemas.RosterMode,
    name="RosterMode",
    description="fast (deterministic) or optimise (CP-SAT from the fast answer)",
)


gql.nested_types(  # the types only other types hold: no resolver names them
    (schemas.HolidayDayFields, "HolidayDay"),
    (schemas.CoverageFigures, "CoverageFigures"),
    (schemas.TierCoverage, "TierCoverage"),
    (schemas.ShopCoverage, "ShopCoverage"),
    (schemas.Uncovered, "UncoveredInterval"),
    (schemas.OvertimeHours, "OvertimeHours"),
    (schemas.BoundRead, "RosterBound"),
    (schemas.SolverRead, "RosterSolver"),
    (schemas.BreakRead, "Break"),
    (schemas.MoveRead, "Move"),
    (schemas.BreakSpan, "SessionBreak"),
)


@gql.read_type(schemas.ReplanRead, name="Replan")
class ReplanType:
    released_rules: JSON


gql.nested_types((schemas.RosterSummary, "RosterSummary"))  # after the Replan it holds


@gql.read_type(schemas.RuleSetRead, name="LabourRuleSet")
class RuleSetType: ...


@gql.read_type(schemas.EmploymentTypeRulesRead, name="EmploymentTypeRules")
class EmploymentTypeRulesType: ...


@gql.read_type(schemas.AgentRulesRead, name="AgentRules")
class AgentRulesType: ...


@gql.read_type(schemas.HolidayCalendarRead, name="HolidayCalendar")
class HolidayCalendarType: ...


@gql.read_type(schemas.AvailabilityRead, name="Availability")
class AvailabilityType: ...


@gql.read_type(schemas.RequirementsRead, name="ShopRequirements")
class RequirementsType: ...


@gql.read_type(schemas.RosterRead, name="Roster")
class RosterType: ...


@gql.read_type(schemas.CoverageCell, name="CoverageCell")
class CoverageCellType: ...


@gql.read_type(schemas.AssignmentRead, name="Assignment")
class AssignmentType: ...


@gql.read_type(schemas.ShiftRead, name="Shift")
class ShiftType: ...


@gql.read_type(schemas.RebalanceRead, name="Rebalance")
class RebalanceType: ...


@gql.read_type(schemas.AppliedRead, name="AppliedMoves")
class AppliedType: ...


@gql.read_type(schemas.WorkSessionRead, name="WorkSession")
class WorkSessionType: ...


@gql.read_type(schemas.AdherenceRow, name="Adherence")
class AdherenceType: ...


@gql.read_type(schemas.OccupancyRow, name="Occupancy")
class OccupancyType: ...


@gql.read_type(schemas.OvertimeRow, name="MonthOvertime")
class OvertimeType: ...


WorkSessionInput = gql.create_input(schemas.WorkSessionIn, name="WorkSessionInput")
MAX_GRAPHQL_SESSIONS = 1_000  # larger loads: REST NDJSON/CSV or `seatwise ingest-attendance`

gql.create_input(schemas.RuleSetCreate, name="LabourRuleSetCreateInput")
gql.update_input(schemas.RuleSetUpdate, name="LabourRuleSetUpdateInput")
gql.create_input(schemas.RuleSetChoice, name="RuleSetChoiceInput")
gql.create_input(schemas.HolidayDayFields, name="HolidayDayInput")
gql.create_input(schemas.HolidayCalendarSet, name="HolidayCalendarInput")
gql.create_input(schemas.AvailabilityCreate, name="AvailabilityInput")
gql.create_input(schemas.RequirementsSet, name="ShopRequirementsInput")
gql.create_input(schemas.RosterCreate, name="RosterInput")
gql.create_input(schemas.Span, name="SpanInput")
gql.create_input(schemas.AssignmentFields, name="AssignmentPartInput")
gql.create_input(schemas.ShiftCreate, name="ShiftCreateInput")
gql.update_input(schemas.ShiftUpdate, name="ShiftUpdateInput")
gql.create_input(schemas.AssignmentCreate, name="AssignmentCreateInput")
gql.update_input(schemas.AssignmentUpdate, name="AssignmentUpdateInput")
gql.create_input(schemas.ShopLive, name="ShopLiveInput")
gql.create_input(schemas.RebalanceRequest, name="RebalanceInput")
gql.create_input(schemas.MoveApply, name="MoveInput")
gql.create_input(schemas.RebalanceApply, name="ApplyMovesInput")


@strawberry.type
class SeatingQuery:
    @gql.field(auth.staff, description="Stored work sessions by shop, agent code and login time, in key "
               "order (`from`/`to`: a date or datetime, Asia/Shanghai unless it has an offset).")
    async def work_sessions(self, session: Session, shop: uuid.UUID | None = None, agent: str | None = None,
                            from_: Annotated[str | None, strawberry.argument(name="from")] = None,
                            to: str | None = None, first: int = 50, after: str | None = None
                            ) -> gql.Page[WorkSessionType]:
        filters = schemas.WorkSessionFilter(shop=shop, agent=agent, start=from_, end=to)
        return gql.page(WorkSessionType, await service.list_work_sessions(session, filters,
                                                                          gql.page_request(first, after)))

    @gql.field(auth.staff, description="Adherence per agent and local day of [from, to).")
    async def attendance_adherence(self, session: Session, from_: Annotated[date, strawberry.argument(
            name="from")], to: date, agents: list[str] | None = None) -> list[AdherenceType]:
        ids = await service.agent_ids_of(session, agents)
        return await service.adherence_by_agent_day(session, from_, to, ids)  # type: ignore[return-value]

    @gql.field(auth.staff, description="Occupancy per shop and interval of the local days [from, to).")
    async def attendance_occupancy(self, session: Session, from_: Annotated[date, strawberry.argument(
            name="from")], to: date, shops: list[uuid.UUID] | None = None) -> list[OccupancyType]:
        grid = await service.occupancy_by_shop_interval(session, (from_, to), shops)
        return list(grid.rows())  # type: ignore[arg-type]

    @gql.field(auth.staff, description="Actual overtime per agent in a month (YYYY-MM) against the cap.")
    async def attendance_overtime(self, session: Session, month: str, agents: list[str] | None = None
                                  ) -> list[OvertimeType]:
        ids = await service.agent_ids_of(session, agents)
        return await service.overtime_by_agent_month(session, month, ids)  # type: ignore[return-value]

    @gql.field(auth.staff)
    async def labour_rule_sets(self, session: Session, first: int = 50, after: str | None = None
                               ) -> gql.Page[RuleSetType]:
        return gql.page(RuleSetType, await service.list_rule_sets(session, gql.page_request(first, after)))

    @gql.field(auth.staff)
    async def labour_rule_set(self, session: Session, id: uuid.UUID) -> RuleSetType:
        return gql.of(RuleSetType, await service.get_rule_set(session, id))

    @gql.field(auth.staff)
    async def employment_type_rules(self, session: Session) -> list[EmploymentTypeRulesType]:
        return [gql.of(EmploymentTypeRulesType, r) for r in await service.list_employment_type_rules(session)]

    @gql.field(auth.staff, description="The rule set an agent works under.")
    async def agent_rules(self, session: Session, agent_id: uuid.UUID) -> AgentRulesType:
        return gql.of(AgentRulesType, await service.agent_rules(session, agent_id))

    @gql.field(auth.staff)
    async def holiday_calendar(self, session: Session, year: int) -> HolidayCalendarType:
        return gql.of(HolidayCalendarType, await service.holiday_calendar(session, year))

    @gql.field(auth.staff)
    async def agent_availability(self, session: Session, agent_id: uuid.UUID, first: int = 50,
                                 after: str | None = None) -> gql.Page[AvailabilityType]:
        answer = await service.list_availability(session, agent_id, gql.page_request(first, after))
        return gql.page(AvailabilityType, answer)

    @gql.field(auth.counts, description="What a shop requires of its agents beyond its platform.")
    async def shop_requirements(self, session: Session, caller: Caller, shop_id: uuid.UUID
                                ) -> RequirementsType:
        return gql.of(RequirementsType, await service.get_requirements(session, caller, shop_id))

    @gql.field(auth.staff)
    async def rosters(self, session: Session, plan_id: uuid.UUID | None = None, first: int = 50,
                      after: str | None = None) -> gql.Page[RosterType]:
        answer = await service.list_rosters(session, gql.page_request(first, after), plan_id)
        return gql.page(RosterType, answer)

    @gql.field(auth.staff, description="A roster with its summaries.")
    async def roster(self, session: Session, id: uuid.UUID) -> RosterType:
        return gql.of(RosterType, await service.get_roster(session, id))

    @gql.field(auth.counts, description="Agents rostered per shop and interval against the plan (a client: "
               "its own shops; counts only).")
    async def roster_coverage(self, session: Session, caller: Caller, roster_id: uuid.UUID,
                              shop_id: uuid.UUID | None = None, first: int = 50, after: str | None = None
                              ) -> gql.Page[CoverageCellType]:
        answer = await service.coverage(session, caller, roster_id, shop_id, gql.page_request(first, after))
        return gql.page(CoverageCellType, answer)

    @gql.field(auth.staff, description="Shifts by roster, agent, site, shop and time.")
    async def shifts(self, session: Session, roster_id: uuid.UUID | None = None,
                     agent_id: uuid.UUID | None = None, site_id: uuid.UUID | None = None,
                     shop_id: uuid.UUID | None = None, start: datetime | None = None,
                     end: datetime | None = None, status: str | None = None, first: int = 50,
                     after: str | None = None) -> gql.Page[ShiftType]:
        filters = schemas.ShiftFilter(roster_id=roster_id, agent_id=agent_id, site_id=site_id,
                                      shop_id=shop_id, start=start, end=end, status=status)
        answer = await service.list_shifts(session, filters, gql.page_request(first, after))
        return gql.page(ShiftType, answer)

    @gql.field(auth.write, description="Moves protecting KA shops at risk in the next interval (nothing is "
               "changed: applyMoves does).")
    async def rebalance(self, session: Session, input: schemas.RebalanceRequest) -> RebalanceType:
        return gql.of(RebalanceType, await service.rebalance(session, input))


@strawberry.type
class SeatingMutation:
    ingest_work_sessions = gql.ingest_mutation(auth.write, WorkSessionInput, IngestResultType,
                                               most=MAX_GRAPHQL_SESSIONS, what="work sessions",
                                               route="/v1/work-sessions",
                                               use_case=service.ingest_work_session_records)

    @gql.mutation(auth.write)
    async def create_labour_rule_set(self, session: Session, input: schemas.RuleSetCreate) -> RuleSetType:
        return gql.of(RuleSetType, await service.create_rule_set(session, input))

    @gql.mutation(auth.write)
    async def update_labour_rule_set(self, session: Session, id: uuid.UUID, input: schemas.RuleSetUpdate
                                     ) -> RuleSetType:
        return gql.of(RuleSetType, await service.update_rule_set(session, id, input))

    @gql.mutation(auth.write)
    async def set_employment_type_rule_set(self, session: Session, employment_type: EmploymentType,
                                           input: schemas.RuleSetChoice) -> list[EmploymentTypeRulesType]:
        answer = await service.set_employment_type_rules(session, employment_type, input)
        return [gql.of(EmploymentTypeRulesType, r) for r in answer]

    @gql.mutation(auth.write)
    async def set_agent_rule_set(self, session: Session, agent_id: uuid.UUID, input: schemas.RuleSetChoice
                                 ) -> AgentRulesType:
        return gql.of(AgentRulesType, await service.set_agent_rules(session, agent_id, input))

    @gql.mutation(auth.write)
    async def set_holiday_calendar(self, session: Session, year: int, input: schemas.HolidayCalendarSet
                                   ) -> HolidayCalendarType:
        return gql.of(HolidayCalendarType, await service.set_holiday_calendar(session, year, input))

    @gql.mutation(auth.write)
    async def add_availability(self, session: Session, caller: Caller, agent_id: uuid.UUID,
                               input: schemas.AvailabilityCreate) -> AvailabilityType:
        return gql.of(AvailabilityType, await service.add_availability(session, caller, agent_id, input))

    remove_availability = gql.delete_mutation(auth.write, service.remove_availability)

    @gql.mutation(auth.write)
    async def set_shop_requirements(self, session: Session, caller: Caller, shop_id: uuid.UUID,
                                    input: schemas.RequirementsSet) -> RequirementsType:
        return gql.of(RequirementsType, await service.set_requirements(session, caller, shop_id, input))

    @gql.mutation(auth.write, description="Build a draft roster for a capacity plan.")
    async def create_roster(self, session: Session, caller: Caller, plan_id: uuid.UUID,
                            input: schemas.RosterCreate) -> RosterType:
        return gql.of(RosterType, await service.create_roster(session, caller, plan_id, input))

    @gql.mutation(auth.write)
    async def publish_roster(self, session: Session, caller: Caller, id: uuid.UUID) -> RosterType:
        return gql.of(RosterType, await service.publish_roster(session, caller, id))

    @gql.mutation(auth.write, description="Place a shift by hand (CONFLICT naming the other shift; "
                  "BAD_USER_INPUT naming a broken rule).")
    async def create_shift(self, session: Session, caller: Caller, input: schemas.ShiftCreate) -> ShiftType:
        return gql.of(ShiftType, await service.create_shift(session, caller, input))

    @gql.mutation(auth.write)
    async def update_shift(self, session: Session, caller: Caller, id: uuid.UUID, input: schemas.ShiftUpdate
                           ) -> ShiftType:
        return gql.of(ShiftType, await service.update_shift(session, caller, id, input))

    delete_shift = gql.delete_mutation(auth.write, service.delete_shift)

    @gql.mutation(auth.write)
    async def create_assignment(self, session: Session, caller: Caller, shift_id: uuid.UUID,
                                input: schemas.AssignmentCreate) -> AssignmentType:
        return gql.of(AssignmentType, await service.create_assignment(session, caller, shift_id, input))

    @gql.mutation(auth.write)
    async def update_assignment(self, session: Session, caller: Caller, id: uuid.UUID,
                                input: schemas.AssignmentUpdate) -> AssignmentType:
        return gql.of(AssignmentType, await service.update_assignment(session, caller, id, input))

    delete_assignment = gql.delete_mutation(auth.write, service.delete_assignment, with_caller=True)

    @gql.mutation(auth.write,
                  description="Apply rebalance moves as assignment changes from the next interval.")
    async def apply_moves(self, session: Session, caller: Caller, input: schemas.RebalanceApply
                          ) -> AppliedType:
        return gql.of(AppliedType, await service.apply_rebalance(session, caller, input))
