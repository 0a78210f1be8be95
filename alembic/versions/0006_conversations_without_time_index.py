"""conversations without the (tenant, shop, started_at) index

Nothing reads raw conversations by time: reports and plans read the rollups, and ingest matches earlier
versions by the primary key. The index cost 40 % of each batch's insert (a random-position btree insert
per row), so it goes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 15:05:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f('ix_conversations_tenant_id_shop_id_started_at'), table_name='conversations')


def downgrade() -> None:
    op.create_index(op.f('ix_conversations_tenant_id_shop_id_started_at'), 'conversations',
                    ['tenant_id', 'shop_id', 'started_at'])
