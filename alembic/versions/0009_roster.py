"""roster: who made and last changed each shift assignment; no time index on assignments

A manual seat move changes assignments as well as shifts; both now record who made them and when (the
shifts had created_by/updated_by since 0008). Rows written before this revision are stamped 'system'.
The GiST index on assignments' (tenant, shop, during) goes: nothing reads by it (coverage goes through a
roster's shifts), and a Double 11 roster stores some 40,000 assignments in one statement.

Revision ID: 0009_roster
Revises: 0008
Create Date: 2026-12-02 01:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0009_roster'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHO = ('created_by', 'updated_by')


def upgrade() -> None:
    op.drop_index(op.f('ix_shift_assignments_tenant_id_shop_id_during'), table_name='shift_assignments',
                  postgresql_using='gist')
    for column in _WHO:
        op.add_column('shift_assignments', sa.Column(column, sqlmodel.sql.sqltypes.AutoString(length=200),
                                                     nullable=False, server_default='system'))
        op.alter_column('shift_assignments', column, server_default=None)
    for column in ('created_at', 'updated_at'):
        op.add_column('shift_assignments', sa.Column(column, sa.DateTime(timezone=True),
                                                     server_default=sa.text('now()'), nullable=False))


def downgrade() -> None:
    for column in ('updated_at', 'created_at', *reversed(_WHO)):
        op.drop_column('shift_assignments', column)
    op.create_index(op.f('ix_shift_assignments_tenant_id_shop_id_during'), 'shift_assignments',
                    ['tenant_id', 'shop_id', 'during'], unique=False, postgresql_using='gist')
