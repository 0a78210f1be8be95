"""GraphQL: labour rule sets, the holiday calendar, availability, shops' requirements, rosters and their
coverage, shifts and assignments, live rebalancing. Thin, over seating.service; shapes from seating.schemas,
roles from seating.auth. (The iCalendar feed and the CSV export are REST's: they are files.)"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from service.conversations.gql import IngestResultType  # the one ingest answer, both feeds
from service.kit import gql
from service.kit.access import Caller, Session
from service.seating import auth, service
from service.seating.rules import HoursSystem
from service.seating.schemas import (
    AdherenceRow,
    AgentRulesRead,
    AppliedRead,
    AssignmentCreate,
    AssignmentFields,
    AssignmentRead,
    AssignmentUpdate,
    AvailabilityCreate,
    AvailabilityRead,
    BoundRead,
    BreakRead,
    BreakSpan,
    CoverageCell,
    CoverageFigures,
    EmploymentTypeRulesRead,
    HolidayCalendarRead,
    HolidayCalendarSet,
    HolidayDayFields,
    MoveApply,
    MoveRead,
    OccupancyRow,
    OvertimeHours,
    OvertimeRow,
    RebalanceApply,
    RebalanceRead,
    RebalanceRequest,
    ReplanRead,
    RequirementsRead,
    RequirementsSet,
    RosterCreate,
    RosterMode,
    RosterRead,
    RosterSummary,
    RuleSetChoice,
    RuleSetCreate,
    RuleSetRead,
    RuleSetUpdate,
    ShiftCreate,
    ShiftFilter,
    ShiftRead,
    ShiftUpdate,
    ShopCoverage,
    ShopLive,
    SolverRead,
    Span,
    TierCoverage,
    Uncovered,
    WorkSessionFilter,
    WorkSessionIn,
    WorkSessionRead,
)
from service.workforce.models import EmploymentType

strawberry.enum(HoursSystem, name="HoursSystem")
strawberry.enum(
    RosterMode,
    name="RosterMode",
    description="fast (deterministic) or optimise (CP-SAT from the fast answer)",
)


@gql.read_type(RuleSetRead, name="LabourRuleSet")
class RuleSetType: ...


@gql.read_type(EmploymentTypeRulesRead, name="EmploymentTypeRules")
class EmploymentTypeRulesType: ...


@gql.read_type(AgentRulesRead, name="AgentRules")
class AgentRulesType: ...


@gql.read_type(HolidayDayFields, name="HolidayDay")
class HolidayDayType: ...


@gql.read_type(HolidayCalendarRead, name="HolidayCalendar")
class HolidayCalendarType: ...


@gql.read_type(AvailabilityRead, name="Availability")
class AvailabilityType: ...


@gql.read_type(RequirementsRead, name="ShopRequirements")
class RequirementsType: ...


for _model, _name in (
    (CoverageFigures, "CoverageFigures"),
    (TierCoverage, "TierCoverage"),
    (ShopCoverage, "ShopCoverage"),
    (Uncovered, "UncoveredInterval"),
    (OvertimeHours, "OvertimeHours"),
    (BoundRead, "RosterBound"),
    (SolverRead, "RosterSolver"),
):
    gql.read_type(_model, name=_name)(type(_name, (), {}))


@gql.read_type(ReplanRead, name="Replan")
class ReplanType:
    released_rules: JSON


@gql.read_type(RosterSummary, name="RosterSummary")
class RosterSummaryType: ...


@gql.read_type(RosterRead, name="Roster")
class RosterType: ...


@gql.read_type(CoverageCell, name="CoverageCell")
class CoverageCellType: ...


@gql.read_type(BreakRead, name="Break")
class BreakType: ...


@gql.read_type(AssignmentRead, name="Assignment")
class AssignmentType: ...


@gql.read_type(ShiftRead, name="Shift")
class ShiftType: ...


@gql.read_type(MoveRead, name="Move")
class MoveType: ...


@gql.read_type(RebalanceRead, name="Rebalance")
class RebalanceType: ...


@gql.read_type(AppliedRead, name="AppliedMoves")
class AppliedType: ...


gql.nested_types((BreakSpan, "SessionBreak"))


@gql.read_type(WorkSessionRead, name="WorkSession")
class WorkSessionType: ...


@gql.read_type(AdherenceRow, name="Adherence")
class AdherenceType: ...


@gql.read_type(OccupancyRow, name="Occupancy")
class OccupancyType: ...


@gql.read_type(OvertimeRow, name="MonthOvertime")
class OvertimeType: ...


WorkSessionInput = gql.create_input(WorkSessionIn, name="WorkSessionInput")
MAX_GRAPHQL_SESSIONS = 1_000  # larger loads: REST NDJSON/CSV or `seatwise ingest-attendance`

gql.create_input(RuleSetCreate, name="LabourRuleSetCreateInput")
gql.update_input(RuleSetUpdate, name="LabourRuleSetUpdateInput")
gql.create_input(RuleSetChoice, name="RuleSetChoiceInput")
gql.create_input(HolidayDayFields, name="HolidayDayInput")
gql.create_input(HolidayCalendarSet, name="HolidayCalendarInput")
gql.create_input(AvailabilityCreate, name="AvailabilityInput")
gql.create_input(RequirementsSet, name="ShopRequirementsInput")
gql.create_input(RosterCreate, name="RosterInput")
gql.create_input(Span, name="SpanInput")
gql.create_input(AssignmentFields, name="AssignmentPartInput")
gql.create_input(ShiftCreate, name="ShiftCreateInput")
gql.update_input(ShiftUpdate, name="ShiftUpdateInput")
gql.create_input(AssignmentCreate, name="AssignmentCreateInput")
gql.update_input(AssignmentUpdate, name="AssignmentUpdateInput")
gql.create_input(ShopLive, name="ShopLiveInput")
gql.create_input(RebalanceRequest, name="RebalanceInput")
gql.create_input(MoveApply, name="MoveInput")
gql.create_input(RebalanceApply, name="ApplyMovesInput")


@strawberry.type
class SeatingQuery:
    @gql.field(auth.staff, description="Stored work sessions by shop, agent code and login time, in key "
               "order (`from`/`to`: a date or datetime, Asia/Shanghai unless it has an offset).")
    async def work_sessions(self, session: Session, shop: uuid.UUID | None = None, agent: str | None = None,
                            from_: Annotated[str | None, strawberry.argument(name="from")] = None,
                            to: str | None = None, first: int = 50, after: str | None = None
                            ) -> gql.Page[WorkSessionType]:
        filters = WorkSessionFilter(shop=shop, agent=agent, start=from_, end=to)
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
    async def labour_rule_sets(
        self, session: Session, first: int = 50, after: str | None = None
    ) -> gql.Page[RuleSetType]:
        return await service.list_rule_sets(session, gql.page_request(first, after))

    @gql.field(auth.staff)
    async def labour_rule_set(self, session: Session, id: uuid.UUID) -> RuleSetType:
        return await service.get_rule_set(session, id)

    @gql.field(auth.staff)
    async def employment_type_rules(self, session: Session) -> list[EmploymentTypeRulesType]:
        return await service.list_employment_type_rules(session)

    @gql.field(auth.staff, description="The rule set an agent works under.")
    async def agent_rules(self, session: Session, agent_id: uuid.UUID) -> AgentRulesType:
        return await service.agent_rules(session, agent_id)

    @gql.field(auth.staff)
    async def holiday_calendar(self, session: Session, year: int) -> HolidayCalendarType:
        return await service.holiday_calendar(session, year)

    @gql.field(auth.staff)
    async def agent_availability(
        self, session: Session, agent_id: uuid.UUID, first: int = 50, after: str | None = None
    ) -> gql.Page[AvailabilityType]:
        return await service.list_availability(session, agent_id, gql.page_request(first, after))

    @gql.field(auth.counts, description="What a shop requires of its agents beyond its platform.")
    async def shop_requirements(
        self, session: Session, caller: Caller, shop_id: uuid.UUID
    ) -> RequirementsType:
        return await service.get_requirements(session, caller, shop_id)

    @gql.field(auth.staff)
    async def rosters(
        self, session: Session, plan_id: uuid.UUID | None = None, first: int = 50, after: str | None = None
    ) -> gql.Page[RosterType]:
        return await service.list_rosters(session, gql.page_request(first, after), plan_id)

    @gql.field(auth.staff, description="A roster with its summaries.")
    async def roster(self, session: Session, id: uuid.UUID) -> RosterType:
        return await service.get_roster(session, id)

    @gql.field(
        auth.counts,
        description="Agents rostered per shop and interval against the plan (a client: its "
        "own shops; counts only).",
    )
    async def roster_coverage(
        self,
        session: Session,
        caller: Caller,
        roster_id: uuid.UUID,
        shop_id: uuid.UUID | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> gql.Page[CoverageCellType]:
        return await service.coverage(session, caller, roster_id, shop_id, gql.page_request(first, after))

    @gql.field(auth.staff, description="Shifts by roster, agent, site, shop and time.")
    async def shifts(
        self,
        session: Session,
        roster_id: uuid.UUID | None = None,
        agent_id: uuid.UUID | None = None,
        site_id: uuid.UUID | None = None,
        shop_id: uuid.UUID | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        status: str | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> gql.Page[ShiftType]:
        filters = ShiftFilter(
            roster_id=roster_id,
            agent_id=agent_id,
            site_id=site_id,
            shop_id=shop_id,
            start=start,
            end=end,
            status=status,
        )
        return await service.list_shifts(session, filters, gql.page_request(first, after))

    @gql.field(
        auth.write,
        description="Moves protecting KA shops at risk in the next interval (nothing is "
        "changed: applyMoves does).",
    )
    async def rebalance(self, session: Session, input: RebalanceRequest) -> RebalanceType:
        return await service.rebalance(session, input)


@strawberry.type
class SeatingMutation:
    @gql.mutation(auth.write, description=f"Ingest up to {MAX_GRAPHQL_SESSIONS:,} work sessions; idempotent "
                  "by shop and externalId.")
    async def ingest_work_sessions(self, session: Session, caller: Caller, info: Info,
                                   records: list[WorkSessionInput]) -> IngestResultType:
        rows = gql.batch_rows(records, MAX_GRAPHQL_SESSIONS, "/v1/work-sessions")
        max_age = info.context.request.app.state.settings.ingest_max_age_days
        answer = await service.ingest_work_session_records(session, caller, rows, max_age)
        return gql.of(IngestResultType, answer)

    @gql.mutation(auth.write)
    async def create_labour_rule_set(self, session: Session, input: RuleSetCreate) -> RuleSetType:
        return await service.create_rule_set(session, input)

    @gql.mutation(auth.write)
    async def update_labour_rule_set(
        self, session: Session, id: uuid.UUID, input: RuleSetUpdate
    ) -> RuleSetType:
        return await service.update_rule_set(session, id, input)

    @gql.mutation(auth.write)
    async def set_employment_type_rule_set(
        self, session: Session, employment_type: EmploymentType, input: RuleSetChoice
    ) -> list[EmploymentTypeRulesType]:
        return await service.set_employment_type_rules(session, employment_type, input)

    @gql.mutation(auth.write)
    async def set_agent_rule_set(
        self, session: Session, agent_id: uuid.UUID, input: RuleSetChoice
    ) -> AgentRulesType:
        return await service.set_agent_rules(session, agent_id, input)

    @gql.mutation(auth.write)
    async def set_holiday_calendar(
        self, session: Session, year: int, input: HolidayCalendarSet
    ) -> HolidayCalendarType:
        return await service.set_holiday_calendar(session, year, input)

    @gql.mutation(auth.write)
    async def add_availability(
        self, session: Session, caller: Caller, agent_id: uuid.UUID, input: AvailabilityCreate
    ) -> AvailabilityType:
        return await service.add_availability(session, caller, agent_id, input)

    @gql.mutation(auth.write)
    async def remove_availability(self, session: Session, id: uuid.UUID) -> bool:
        await service.remove_availability(session, id)
        return True

    @gql.mutation(auth.write)
    async def set_shop_requirements(
        self, session: Session, caller: Caller, shop_id: uuid.UUID, input: RequirementsSet
    ) -> RequirementsType:
        return await service.set_requirements(session, caller, shop_id, input)

    @gql.mutation(auth.write, description="Build a draft roster for a capacity plan.")
    async def create_roster(
        self, session: Session, caller: Caller, plan_id: uuid.UUID, input: RosterCreate
    ) -> RosterType:
        return await service.create_roster(session, caller, plan_id, input)

    @gql.mutation(auth.write)
    async def publish_roster(self, session: Session, caller: Caller, id: uuid.UUID) -> RosterType:
        return await service.publish_roster(session, caller, id)

    @gql.mutation(
        auth.write,
        description="Place a shift by hand (CONFLICT naming the other shift; "
        "BAD_USER_INPUT naming a broken rule).",
    )
    async def create_shift(self, session: Session, caller: Caller, input: ShiftCreate) -> ShiftType:
        return await service.create_shift(session, caller, input)

    @gql.mutation(auth.write)
    async def update_shift(
        self, session: Session, caller: Caller, id: uuid.UUID, input: ShiftUpdate
    ) -> ShiftType:
        return await service.update_shift(session, caller, id, input)

    @gql.mutation(auth.write)
    async def delete_shift(self, session: Session, id: uuid.UUID) -> bool:
        await service.delete_shift(session, id)
        return True

    @gql.mutation(auth.write)
    async def create_assignment(
        self, session: Session, caller: Caller, shift_id: uuid.UUID, input: AssignmentCreate
    ) -> AssignmentType:
        return await service.create_assignment(session, caller, shift_id, input)

    @gql.mutation(auth.write)
    async def update_assignment(
        self, session: Session, caller: Caller, id: uuid.UUID, input: AssignmentUpdate
    ) -> AssignmentType:
        return await service.update_assignment(session, caller, id, input)

    @gql.mutation(auth.write)
    async def delete_assignment(self, session: Session, caller: Caller, id: uuid.UUID) -> bool:
        await service.delete_assignment(session, caller, id)
        return True

    @gql.mutation(auth.write,
                  description="Apply rebalance moves as assignment changes from the next interval.")
    async def apply_moves(self, session: Session, caller: Caller, input: RebalanceApply) -> AppliedType:
        return await service.apply_rebalance(session, caller, input)
