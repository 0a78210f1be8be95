"""finance

Versioned cost rates, the period book and the statement counter (operator-level); contracts and their
versions, statements and their lines, cost lines and shop-month usage (tenant-owned: RLS). Triggers make
the books hold in the database itself, whatever the application does: versions are append-only, a closed
month's rows are frozen, finalized statements are never edited, a closed month reopens only with its
reopening recorded in the same transaction, and the period events are append-only.

Revision ID: 0011_finance
Revises: 0010_roster_speed
Create Date: 2026-12-02 00:50:20.471192
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.rls import disable_tenant_rls, enable_tenant_rls, grant_dml

TENANT_TABLES = ('contracts', 'contract_versions', 'statements', 'statement_lines', 'cost_lines',
                 'shop_month_usage')
APPEND_ONLY = ('agent_cost_versions', 'seat_cost_versions', 'overhead_versions', 'overtime_multiplier_versions',
               'contract_versions', 'finance_period_events')
# Rows of these carry `month`: none of a closed month is inserted, changed or deleted.
MONTH_ROWS = ('statements', 'statement_lines', 'cost_lines', 'shop_month_usage')

# SQLSTATEs the application maps to 409 problems (service.finance.queries).
FUNCTIONS = (
    """
CREATE FUNCTION finance_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are never changed, deleted or truncated', TG_TABLE_NAME
    USING ERRCODE = 'SWF01';
END $$;
""",
    """
CREATE FUNCTION finance_refuse_closed_month() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  closed date;
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT p.month INTO closed FROM finance_periods p
    WHERE p.status = 'closed' AND p.month IN (SELECT n.month FROM new_rows n) LIMIT 1;
  END IF;
  IF closed IS NULL AND TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT p.month INTO closed FROM finance_periods p
    WHERE p.status = 'closed' AND p.month IN (SELECT o.month FROM old_rows o) LIMIT 1;
  END IF;
  IF closed IS NOT NULL THEN
    RAISE EXCEPTION 'the month % is closed: its % rows are frozen (late data becomes adjustments in an open '
                    'month)', to_char(closed, 'YYYY-MM'), TG_TABLE_NAME USING ERRCODE = 'SWF02';
  END IF;
  RETURN NULL;
END $$;
""",
    """
CREATE FUNCTION finance_refuse_finalized_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM old_rows o WHERE o.status = 'finalized') THEN
    RAISE EXCEPTION 'a finalized statement is never changed or deleted: correct it with adjustments'
      USING ERRCODE = 'SWF03';
  END IF;
  RETURN NULL;
END $$;
""",
    """
CREATE FUNCTION finance_refuse_finalized_lines() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  found boolean;
BEGIN
  IF TG_OP = 'UPDATE' THEN
    RAISE EXCEPTION 'statement lines are never changed' USING ERRCODE = 'SWF03';
  ELSIF TG_OP = 'INSERT' THEN
    SELECT EXISTS (SELECT 1 FROM statements s JOIN (SELECT DISTINCT tenant_id, statement_id FROM new_rows) n
                   ON s.tenant_id = n.tenant_id AND s.id = n.statement_id WHERE s.status = 'finalized')
      INTO found;
  ELSE
    SELECT EXISTS (SELECT 1 FROM statements s JOIN (SELECT DISTINCT tenant_id, statement_id FROM old_rows) o
                   ON s.tenant_id = o.tenant_id AND s.id = o.statement_id WHERE s.status = 'finalized')
      INTO found;
  END IF;
  IF found THEN
    RAISE EXCEPTION 'the lines of a finalized statement are never changed' USING ERRCODE = 'SWF03';
  END IF;
  RETURN NULL;
END $$;
""",
    """
CREATE FUNCTION finance_guard_period() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'periods are never deleted' USING ERRCODE = 'SWF01';
  END IF;
  IF OLD.status = 'closed' AND NEW.status <> 'closed' AND NOT EXISTS (
      SELECT 1 FROM finance_period_events e
      WHERE e.month = OLD.month AND e.action = 'reopen' AND e.at = now()) THEN
    RAISE EXCEPTION 'the month % opens again only with its reopening recorded (finance_period_events)',
      to_char(OLD.month, 'YYYY-MM') USING ERRCODE = 'SWF04';
  END IF;
  IF OLD.status = 'closed' AND NEW.status = 'closed' AND NEW IS DISTINCT FROM OLD THEN
    RAISE EXCEPTION 'a closed period is not changed' USING ERRCODE = 'SWF02';
  END IF;
  RETURN NEW;
END $$;
""",
)

TRIGGERS = [
    *(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
      "FOR EACH ROW EXECUTE FUNCTION finance_refuse_change()" for t in APPEND_ONLY),
    *(f"CREATE TRIGGER {t}_closed_insert AFTER INSERT ON {t} REFERENCING NEW TABLE AS new_rows "
      "FOR EACH STATEMENT EXECUTE FUNCTION finance_refuse_closed_month()" for t in MONTH_ROWS),
    *(f"CREATE TRIGGER {t}_closed_update AFTER UPDATE ON {t} REFERENCING OLD TABLE AS old_rows "
      "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finance_refuse_closed_month()"
      for t in MONTH_ROWS),
    *(f"CREATE TRIGGER {t}_closed_delete AFTER DELETE ON {t} REFERENCING OLD TABLE AS old_rows "
      "FOR EACH STATEMENT EXECUTE FUNCTION finance_refuse_closed_month()" for t in MONTH_ROWS),
    "CREATE TRIGGER statements_finalized_update AFTER UPDATE ON statements REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION finance_refuse_finalized_statement()",
    "CREATE TRIGGER statements_finalized_delete AFTER DELETE ON statements REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION finance_refuse_finalized_statement()",
    "CREATE TRIGGER statement_lines_finalized_insert AFTER INSERT ON statement_lines "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finance_refuse_finalized_lines()",
    "CREATE TRIGGER statement_lines_finalized_update BEFORE UPDATE ON statement_lines "
    "FOR EACH STATEMENT EXECUTE FUNCTION finance_refuse_finalized_lines()",
    "CREATE TRIGGER statement_lines_finalized_delete AFTER DELETE ON statement_lines "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION finance_refuse_finalized_lines()",
    "CREATE TRIGGER finance_periods_guard BEFORE UPDATE OR DELETE ON finance_periods "
    "FOR EACH ROW EXECUTE FUNCTION finance_guard_period()",
    # TRUNCATE fires no row or delete trigger: refused on its own (the app role has no TRUNCATE grant either).
    *(f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
      "FOR EACH STATEMENT EXECUTE FUNCTION finance_refuse_change()"
      for t in (*APPEND_ONLY, *MONTH_ROWS, 'finance_periods')),
]

revision: str = '0011_finance'
down_revision: str | None = '0010_roster_speed'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('finance_period_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("action IN ('close', 'reopen')", name=op.f('ck_finance_period_events_action')),
    sa.CheckConstraint("date_part('day', month) = 1", name=op.f('ck_finance_period_events_month_first_day')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_period_events'))
    )
    op.create_index(op.f('ix_finance_period_events_month_at'), 'finance_period_events', ['month', 'at'], unique=False)
    op.create_table('finance_periods',
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('computed_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.CheckConstraint("date_part('day', month) = 1", name=op.f('ck_finance_periods_month_first_day')),
    sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_finance_periods_status')),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_finance_periods'))
    )
    op.create_table('overtime_multiplier_versions',
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('workday', sa.Numeric(precision=5, scale=3), nullable=False),
    sa.Column('rest_day', sa.Numeric(precision=5, scale=3), nullable=False),
    sa.Column('holiday', sa.Numeric(precision=5, scale=3), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("effective_from >= DATE '2000-01-01'", name=op.f('ck_overtime_multiplier_versions_effective_from_range')),
    sa.CheckConstraint('workday >= 1 AND rest_day >= 1 AND holiday >= 1', name=op.f('ck_overtime_multiplier_versions_at_least_one')),
    sa.PrimaryKeyConstraint('effective_from', name=op.f('pk_overtime_multiplier_versions'))
    )
    op.create_table('statement_counters',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.CheckConstraint('last_number >= 0', name=op.f('ck_statement_counters_nonnegative')),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_statement_counters'))
    )
    op.create_table('overhead_versions',
    sa.Column('site_id', sa.Uuid(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('management_share', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("effective_from >= DATE '2000-01-01'", name=op.f('ck_overhead_versions_effective_from_range')),
    sa.CheckConstraint('management_share >= 0 AND management_share <= 1', name=op.f('ck_overhead_versions_share_range')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_overhead_versions_site_id_sites'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('site_id', 'effective_from', name=op.f('pk_overhead_versions'))
    )
    op.create_table('seat_cost_versions',
    sa.Column('site_id', sa.Uuid(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('seat_hour_cost', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("effective_from >= DATE '2000-01-01'", name=op.f('ck_seat_cost_versions_effective_from_range')),
    sa.CheckConstraint('seat_hour_cost >= 0', name=op.f('ck_seat_cost_versions_nonnegative')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_seat_cost_versions_site_id_sites'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('site_id', 'effective_from', name=op.f('pk_seat_cost_versions'))
    )
    op.create_table('statements',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('charges', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('credits', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('adjustments', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('pending_credits', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('forgiven_credits', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finalized_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finalized_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.CheckConstraint("(status = 'finalized') = (number IS NOT NULL)", name=op.f('ck_statements_numbered_when_finalized')),
    sa.CheckConstraint("date_part('day', month) = 1", name=op.f('ck_statements_month_first_day')),
    sa.CheckConstraint("status IN ('draft', 'finalized')", name=op.f('ck_statements_status')),
    sa.CheckConstraint('total = charges + credits + adjustments', name=op.f('ck_statements_total_is_the_sum')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_statements_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_statements'))
    )
    op.create_index(op.f('ix_statements_month'), 'statements', ['month'], unique=False)
    op.create_index('uq_statements_tenant_id_month', 'statements', ['tenant_id', 'month'], unique=True)
    op.create_index('uq_statements_tenant_id_number', 'statements', ['tenant_id', 'number'], unique=True)
    op.create_table('agent_cost_versions',
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('wage', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('social_insurance', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('housing_fund', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("effective_from >= DATE '2000-01-01'", name=op.f('ck_agent_cost_versions_effective_from_range')),
    sa.CheckConstraint('wage >= 0 AND social_insurance >= 0 AND housing_fund >= 0', name=op.f('ck_agent_cost_versions_nonnegative')),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_cost_versions_agent_id_agents'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('agent_id', 'effective_from', name=op.f('pk_agent_cost_versions'))
    )
    op.create_table('contracts',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('shop_id', sa.Uuid(), nullable=True),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id', 'shop_id'], ['shops.tenant_id', 'shops.id'], name=op.f('fk_contracts_tenant_id_shop_id_shops'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_contracts_tenant_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_contracts'))
    )
    op.create_index('uq_contracts_brand_wide', 'contracts', ['tenant_id'], unique=True, postgresql_where=sa.text('shop_id IS NULL'))
    op.create_index('uq_contracts_shop', 'contracts', ['tenant_id', 'shop_id'], unique=True, postgresql_where=sa.text('shop_id IS NOT NULL'))
    op.create_table('cost_lines',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('shop_id', sa.Uuid(), nullable=False),
    sa.Column('site_id', sa.Uuid(), nullable=False),
    sa.Column('of_month', sa.Date(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('attendance_minutes', sa.Integer(), nullable=False),
    sa.Column('roster_minutes', sa.Integer(), nullable=False),
    sa.Column('overtime_workday_minutes', sa.Integer(), nullable=False),
    sa.Column('overtime_rest_day_minutes', sa.Integer(), nullable=False),
    sa.Column('overtime_holiday_minutes', sa.Integer(), nullable=False),
    sa.Column('labour_base', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('overtime_premium', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('seat', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('overhead', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.CheckConstraint("date_part('day', month) = 1", name=op.f('ck_cost_lines_month_first_day')),
    sa.CheckConstraint("date_part('day', of_month) = 1", name=op.f('ck_cost_lines_of_month_first_day')),
    sa.CheckConstraint('of_month <= month', name=op.f('ck_cost_lines_corrects_the_past')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_cost_lines_site_id_sites'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id', 'shop_id'], ['shops.tenant_id', 'shops.id'], name=op.f('fk_cost_lines_tenant_id_shop_id_shops'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('tenant_id', 'month', 'shop_id', 'site_id', 'of_month', name=op.f('pk_cost_lines'))
    )
    op.create_index(op.f('ix_cost_lines_month'), 'cost_lines', ['month'], unique=False)
    op.create_table('shop_month_usage',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('shop_id', sa.Uuid(), nullable=False),
    sa.Column('conversations', sa.Integer(), nullable=False),
    sa.Column('assisted_gmv', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('promotion_seat_days', sa.Integer(), nullable=False),
    sa.CheckConstraint("date_part('day', month) = 1", name=op.f('ck_shop_month_usage_month_first_day')),
    sa.ForeignKeyConstraint(['tenant_id', 'shop_id'], ['shops.tenant_id', 'shops.id'], name=op.f('fk_shop_month_usage_tenant_id_shop_id_shops'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('tenant_id', 'month', 'shop_id', name=op.f('pk_shop_month_usage'))
    )
    op.create_table('statement_lines',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('statement_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('component', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('shop_id', sa.Uuid(), nullable=True),
    sa.Column('quantity', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('rate', sa.Numeric(precision=18, scale=6), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('corrects_statement_id', sa.Uuid(), nullable=True),
    sa.Column('corrects_position', sa.Integer(), nullable=True),
    sa.Column('corrects_month', sa.Date(), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('credit', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.CheckConstraint("(kind = 'adjustment') = (reason IS NOT NULL AND corrects_month IS NOT NULL)", name=op.f('ck_statement_lines_adjustments_say_why')),
    sa.CheckConstraint("corrects_statement_id IS NULL OR kind = 'adjustment'", name=op.f('ck_statement_lines_only_adjustments_link')),
    sa.CheckConstraint("date_part('day', month) = 1", name=op.f('ck_statement_lines_month_first_day')),
    sa.CheckConstraint("kind IN ('charge', 'credit', 'credit_pending', 'credit_forgiven', 'adjustment')", name=op.f('ck_statement_lines_kind')),
    sa.ForeignKeyConstraint(['tenant_id', 'corrects_statement_id', 'corrects_position'], ['statement_lines.tenant_id', 'statement_lines.statement_id', 'statement_lines.position'], name='fk_statement_lines_corrects_line', ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['tenant_id', 'statement_id'], ['statements.tenant_id', 'statements.id'], name=op.f('fk_statement_lines_tenant_id_statement_id_statements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'statement_id', 'position', name=op.f('pk_statement_lines'))
    )
    op.create_index(op.f('ix_statement_lines_tenant_id_corrects_month'), 'statement_lines', ['tenant_id', 'corrects_month'], unique=False)
    op.create_table('contract_versions',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('contract_id', sa.Uuid(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('seat_hour_rate', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('dedicated_seats', sa.Integer(), server_default='0', nullable=False),
    sa.Column('dedicated_seat_monthly_rate', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('per_conversation_rate', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('monthly_base_fee', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('gmv_commission_share', sa.Numeric(precision=7, scale=6), nullable=True),
    sa.Column('peak_surcharge_per_seat_day', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('at_risk_share', sa.Numeric(precision=5, scale=4), nullable=True),
    sa.Column('pool_scope', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('earn_back_months', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('credit_allocations', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("effective_from >= DATE '2000-01-01'", name=op.f('ck_contract_versions_effective_from_range')),
    sa.CheckConstraint("pool_scope IN ('brand', 'shop')", name=op.f('ck_contract_versions_pool_scope')),
    sa.CheckConstraint('at_risk_share IS NULL OR at_risk_share BETWEEN 0 AND 1', name=op.f('ck_contract_versions_at_risk_range')),
    sa.CheckConstraint('dedicated_seats >= 0', name=op.f('ck_contract_versions_dedicated_seats_nonnegative')),
    sa.CheckConstraint('earn_back_months BETWEEN 0 AND 12', name=op.f('ck_contract_versions_earn_back_range')),
    sa.CheckConstraint('gmv_commission_share IS NULL OR gmv_commission_share BETWEEN 0 AND 1', name=op.f('ck_contract_versions_commission_range')),
    sa.ForeignKeyConstraint(['tenant_id', 'contract_id'], ['contracts.tenant_id', 'contracts.id'], name=op.f('fk_contract_versions_tenant_id_contract_id_contracts'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('tenant_id', 'contract_id', 'effective_from', name=op.f('pk_contract_versions'))
    )
    # ### end Alembic commands ###
    for function in FUNCTIONS:
        op.execute(function)
    for trigger in TRIGGERS:
        op.execute(trigger)
    for table in TENANT_TABLES:
        enable_tenant_rls(op, table)
    # DML as the books allow it: versions and events are only added; the counter and periods change.
    for table in APPEND_ONLY:
        grant_dml(op, table, 'SELECT, INSERT')
    for table in ('finance_periods', 'statement_counters'):
        grant_dml(op, table, 'SELECT, INSERT, UPDATE')
    for table in TENANT_TABLES:
        if table not in APPEND_ONLY:
            grant_dml(op, table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_tenant_rls(op, table)
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_table('contract_versions')
    op.drop_index(op.f('ix_statement_lines_tenant_id_corrects_month'), table_name='statement_lines')
    op.drop_table('statement_lines')
    op.drop_table('shop_month_usage')
    op.drop_index(op.f('ix_cost_lines_month'), table_name='cost_lines')
    op.drop_table('cost_lines')
    op.drop_index('uq_contracts_shop', table_name='contracts', postgresql_where=sa.text('shop_id IS NOT NULL'))
    op.drop_index('uq_contracts_brand_wide', table_name='contracts', postgresql_where=sa.text('shop_id IS NULL'))
    op.drop_table('contracts')
    op.drop_table('agent_cost_versions')
    op.drop_index('uq_statements_tenant_id_number', table_name='statements')
    op.drop_index('uq_statements_tenant_id_month', table_name='statements')
    op.drop_index(op.f('ix_statements_month'), table_name='statements')
    op.drop_table('statements')
    op.drop_table('seat_cost_versions')
    op.drop_table('overhead_versions')
    op.drop_table('statement_counters')
    op.drop_table('overtime_multiplier_versions')
    op.drop_table('finance_periods')
    op.drop_index(op.f('ix_finance_period_events_month_at'), table_name='finance_period_events')
    op.drop_table('finance_period_events')
    # ### end Alembic commands ###
    for name in ('finance_refuse_change', 'finance_refuse_closed_month', 'finance_refuse_finalized_statement',
                 'finance_refuse_finalized_lines', 'finance_guard_period'):
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
