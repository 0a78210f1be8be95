"""operable: the caller check, API keys, issued tokens, the audit log

- seatwise_refusal(jti, tenant, key): why a caller is refused (a revoked token or key, a tenant that does
  not exist, a suspended or offboarded brand), NULL when it is not. The scope's one round trip at the start
  of every transaction calls it; it reads tenants with app.staff on, set for the call only.
- api_keys and issued_tokens: identity, read before a caller's scope exists (operator-level, no RLS; a
  brand's listing is filtered by brand_id in the use cases). A key's secret is stored as its SHA-256 only.
- audit_log: every write, in the write's transaction; tenant-owned (the nil uuid for the outsourcer's own
  objects), append-only for every role: the app role may only SELECT and INSERT, and a trigger refuses
  UPDATE, DELETE and TRUNCATE to anyone, the owner included.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.rls import APP_ROLE, disable_tenant_rls, enable_tenant_rls, grant_dml

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


REFUSAL = '''
CREATE FUNCTION seatwise_refusal(jti text, tenant text, key text) RETURNS text
LANGUAGE sql STABLE SET app.staff = 'on' AS $$
  SELECT CASE
    WHEN jti <> '' AND EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = seatwise_refusal.jti) THEN 'revoked'
    WHEN key <> '' AND NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.id = key::uuid AND k.revoked_at IS NULL
                                   AND (k.expires_at IS NULL OR k.expires_at > now())) THEN 'revoked'
    WHEN tenant = '' THEN NULL
    ELSE (SELECT CASE WHEN count(*) = 0 THEN 'unknown tenant' WHEN bool_and(t.status = 'active') THEN NULL
                      ELSE max(t.status) END
          FROM tenants t WHERE t.id = tenant::uuid)
  END
$$
'''

APPEND_ONLY = '''
CREATE FUNCTION seatwise_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$
'''


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('secret_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('brand_id', sa.Uuid(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'ops', 'finance', 'client')", name=op.f('ck_api_keys_role')),
    sa.CheckConstraint("(role = 'client') = (brand_id IS NOT NULL)", name=op.f('ck_api_keys_client_has_brand')),
    sa.ForeignKeyConstraint(['brand_id'], ['tenants.id'], name=op.f('fk_api_keys_brand_id_tenants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_keys_prefix')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_api_keys_secret_hash'))
    )
    op.create_index(op.f('ix_api_keys_brand_id'), 'api_keys', ['brand_id'], unique=False)
    op.create_table('issued_tokens',
    sa.Column('jti', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('brand_id', sa.Uuid(), nullable=True),
    sa.Column('issued_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_issued_tokens'))
    )
    op.create_table('audit_log',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('actor_role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('actor_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('actor_key', sa.Uuid(), nullable=True),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('object_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('object_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'id', name=op.f('pk_audit_log'))
    )
    op.create_index(op.f('ix_audit_log_at'), 'audit_log', ['at'], unique=False)
    op.create_index(op.f('ix_audit_log_object_type_object_id'), 'audit_log', ['object_type', 'object_id'], unique=False)
    enable_tenant_rls(op, 'audit_log')
    grant_dml(op, 'audit_log', 'SELECT, INSERT')
    grant_dml(op, 'api_keys', 'SELECT, INSERT, UPDATE')
    grant_dml(op, 'issued_tokens', 'SELECT, INSERT')
    op.execute(APPEND_ONLY)
    op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION seatwise_audit_append_only()")
    op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
               "FOR EACH STATEMENT EXECUTE FUNCTION seatwise_audit_append_only()")
    op.execute(REFUSAL)
    op.execute("REVOKE ALL ON FUNCTION seatwise_refusal(text, text, text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION seatwise_refusal(text, text, text) TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS seatwise_refusal(text, text, text)")
    disable_tenant_rls(op, 'audit_log')
    op.drop_index(op.f('ix_audit_log_object_type_object_id'), table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_at'), table_name='audit_log')
    op.drop_table('audit_log')
    op.execute("DROP FUNCTION IF EXISTS seatwise_audit_append_only()")
    op.drop_table('issued_tokens')
    op.drop_index(op.f('ix_api_keys_brand_id'), table_name='api_keys')
    op.drop_table('api_keys')
