"""demo_loads: the demo load's marker

One operator-level row (no tenant_id, so no RLS): the demo's first transaction inserts it (started_at, seed,
day), its last step sets completed_at. `serve --demo` reloads a demo whose load never completed (the embedded
database) or refuses to start on it (a DATABASE_URL one). The app role, which loads the demo, reads, inserts
and updates it.

Revision ID: 0015_demo_loads
Revises: 0014_scorecard
Create Date: 2026-12-02 08:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tenants.rls import grant_dml

revision: str = '0015_demo_loads'
down_revision: str | None = '0014_scorecard'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'demo_loads',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('seed', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_demo_loads_one_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_loads')),
    )
    grant_dml(op, 'demo_loads', 'SELECT, INSERT, UPDATE')


def downgrade() -> None:
    op.drop_table('demo_loads')
