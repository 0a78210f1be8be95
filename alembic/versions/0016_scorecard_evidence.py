"""scorecard evidence: occupancy per scope at the interval, understaffing, overtime per day

The attendance facts of the scorecard become re-countable per scope: every load day (shop, site, and now team
and agent) keeps its handle and chat-slot seconds, the occupancy of each interval above the hot floor (85 %,
ascending: any occupancy threshold at or above the floor re-counts its hot intervals) instead of two counts
against the default thresholds, and the intervals rostered below requirement. New operator-level table (no
tenant_id, so no RLS; staff data like the site's): scorecard_team_load_days. The agent days gain their load
columns, and their overtime is now per day (no longer the month's total on its first day) with the normal
minutes worked and the agent's daily norm (a recovery window's compensatory rest: the norm's hours not worked
on its workdays). The facts are computed
again by the next refresh (rows of the dropped columns cannot be converted: their thresholds were fixed).

Revision ID: 0016_scorecard_evidence
Revises: 0015_demo_loads
Create Date: 2026-12-02 14:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.rls import grant_dml

revision: str = '0016_scorecard_evidence'
down_revision: str | None = '0015_demo_loads'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOADS = ('scorecard_shop_load_days', 'scorecard_site_load_days', 'scorecard_agent_days')


def _load_columns(table: str) -> None:
    op.add_column(table, sa.Column('occupancies', postgresql.ARRAY(sa.REAL()), server_default='{}',
                                   nullable=False))
    op.add_column(table, sa.Column('understaffed', sa.Integer(), server_default='0', nullable=False))
    op.alter_column(table, 'occupancies', server_default=None)
    op.alter_column(table, 'understaffed', server_default=None)


def upgrade() -> None:
    op.create_table(
        'scorecard_team_load_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('handle_s', sa.Double(), nullable=False),
        sa.Column('capacity_s', sa.Double(), nullable=False),
        sa.Column('occupancies', postgresql.ARRAY(sa.REAL()), nullable=False),
        sa.Column('understaffed', sa.Integer(), nullable=False),
        sa.Column('team_id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(['team_id'], ['agent_teams.id'],
                                name=op.f('fk_scorecard_team_load_days_team_id_agent_teams'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('team_id', 'day', name=op.f('pk_scorecard_team_load_days')),
    )
    grant_dml(op, 'scorecard_team_load_days')
    for table in ('scorecard_shop_load_days', 'scorecard_site_load_days'):
        op.drop_column(table, 'hot')
        op.drop_column(table, 'promotion_hot')
    op.execute('DELETE FROM scorecard_agent_days')  # a month's total on its first day: computed again
    op.add_column('scorecard_agent_days', sa.Column('handle_s', sa.Double(), server_default='0', nullable=False))
    op.add_column('scorecard_agent_days', sa.Column('capacity_s', sa.Double(), server_default='0',
                                                    nullable=False))
    for column in ('normal_min', 'norm_min'):
        op.add_column('scorecard_agent_days', sa.Column(column, sa.Integer(), server_default='0', nullable=False))
        op.alter_column('scorecard_agent_days', column, server_default=None)
    op.alter_column('scorecard_agent_days', 'handle_s', server_default=None)
    op.alter_column('scorecard_agent_days', 'capacity_s', server_default=None)
    for table in LOADS:
        _load_columns(table)


def downgrade() -> None:
    for table in LOADS:
        op.drop_column(table, 'understaffed')
        op.drop_column(table, 'occupancies')
    op.drop_column('scorecard_agent_days', 'norm_min')
    op.drop_column('scorecard_agent_days', 'normal_min')
    op.drop_column('scorecard_agent_days', 'capacity_s')
    op.drop_column('scorecard_agent_days', 'handle_s')
    for table in ('scorecard_shop_load_days', 'scorecard_site_load_days'):
        op.add_column(table, sa.Column('hot', sa.Integer(), server_default='0', nullable=False))
        op.add_column(table, sa.Column('promotion_hot', sa.Integer(), server_default='0', nullable=False))
        op.alter_column(table, 'hot', server_default=None)
        op.alter_column(table, 'promotion_hot', server_default=None)
    op.drop_table('scorecard_team_load_days')
