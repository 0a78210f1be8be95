"""attendance: work_sessions as a feed's write path

An attendance export records what happened: an agent may be logged in on several shops' workbenches at once,
and exports repeat sessions. So the table refuses only what cannot be a session: a CHECK that logout is
after login and a session lasts at most 24 hours (with 0008's bounded range and breaks inside it). The GiST
index over (agent, during) and the foreign keys to agents and shops go: ingest resolves the shop (RLS and
the caller's tenant limit it) and the agent code itself, set-based, and a bulk load paid a GiST entry and two
key lookups a row for them. In their place btree (agent_id, lower(during)) for per-agent reads (adherence,
overtime, finance's hours) and BRIN over lower(during) for time windows (occupancy over a month of many
shops; exports arrive roughly in time order). RLS (enabled in 0008) and the grants stand.

Revision ID: 0013_attendance
Revises: 0012_load
Create Date: 2026-12-02 07:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_attendance'
down_revision: str | None = '0012_load'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_work_sessions_agent_id_during', table_name='work_sessions', postgresql_using='gist')
    op.drop_constraint('fk_work_sessions_agent_id_agents', 'work_sessions', type_='foreignkey')
    op.drop_constraint('fk_work_sessions_tenant_id_shop_id_shops', 'work_sessions', type_='foreignkey')
    op.create_check_constraint(
        op.f('ck_work_sessions_at_most_a_day'), 'work_sessions',
        "upper(during) > lower(during) AND upper(during) - lower(during) <= interval '24 hours'")
    op.create_index('ix_work_sessions_agent_login', 'work_sessions', ['agent_id', sa.text('lower(during)')])
    op.create_index('ix_work_sessions_login', 'work_sessions', [sa.text('lower(during)')],
                    postgresql_using='brin')


def downgrade() -> None:
    op.drop_index('ix_work_sessions_login', table_name='work_sessions', postgresql_using='brin')
    op.drop_index('ix_work_sessions_agent_login', table_name='work_sessions')
    op.drop_constraint(op.f('ck_work_sessions_at_most_a_day'), 'work_sessions', type_='check')
    op.create_foreign_key('fk_work_sessions_tenant_id_shop_id_shops', 'work_sessions', 'shops',
                          ['tenant_id', 'shop_id'], ['tenant_id', 'id'], ondelete='RESTRICT')
    op.create_foreign_key('fk_work_sessions_agent_id_agents', 'work_sessions', 'agents', ['agent_id'], ['id'],
                          ondelete='RESTRICT')
    op.create_index('ix_work_sessions_agent_id_during', 'work_sessions', ['agent_id', 'during'],
                    postgresql_using='gist')
