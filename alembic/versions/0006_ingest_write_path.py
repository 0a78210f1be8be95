"""ingest write path: no time index on conversations, no foreign key on the rollups, byte-order ids

- Nothing reads raw conversations by time (reports and plans read rollups; ingest matches earlier
  versions by primary key): the (tenant, shop, started_at) index cost 40 % of each batch's insert.
- shop_interval_stats is written only by ingest, which resolves every shop under RLS first: its foreign
  key to shops cost a trigger call per new interval row (a quarter of the rollup step).
- conversations.external_id compares in byte order (COLLATE "C"): an id has no linguistic order, and
  memcmp with abbreviated keys is what makes its primary-key inserts and the batch matching cheap
  whatever the server's locale.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 15:05:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f('ix_conversations_tenant_id_shop_id_started_at'), table_name='conversations')
    op.drop_constraint('fk_shop_interval_stats_tenant_id_shop_id_shops', 'shop_interval_stats', type_='foreignkey')
    op.alter_column('conversations', 'external_id', type_=sa.String(128, collation='C'),
                    existing_type=sa.String(128), existing_nullable=False)


def downgrade() -> None:
    op.alter_column('conversations', 'external_id', type_=sa.String(128),
                    existing_type=sa.String(128, collation='C'), existing_nullable=False)
    op.create_foreign_key('fk_shop_interval_stats_tenant_id_shop_id_shops', 'shop_interval_stats', 'shops',
                          ['tenant_id', 'shop_id'], ['tenant_id', 'id'], ondelete='CASCADE')
    op.create_index(op.f('ix_conversations_tenant_id_shop_id_started_at'), 'conversations',
                    ['tenant_id', 'shop_id', 'started_at'])
