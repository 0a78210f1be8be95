"""load: a version of what each shop's SLA reports read, changed by the database on every write to it; a
transaction's scope in one statement that travels with its BEGIN

shop_report_versions holds one row per shop that has any rollup, day histogram or policy version: a random
uuid that triggers replace in every statement writing shop_interval_stats, shop_day_frt or sla_policies for
the shop (statement-level, over the statement's transition table: one insert per statement, not per row).
A report or breach list computed after reading a shop's version is exactly what the same computation
gives for as long as the version stands, in every process reading the same database: the server keeps
such answers in memory (service.kit.cache) and finds them again by the version it reads in the caller's
transaction. TRUNCATE of those tables forgets every version (no answer is found again). The rows are
tenant-owned (RLS: a client's ingest writes its own shops' versions) and filled for the rollups already
there. No foreign key to shops, like shop_interval_stats: a write of rollups is never refused for it.

seatwise_enter(staff, tenant, jti, key) sets a transaction's tenancy settings, or raises SW001 with the reason
the caller is refused: one statement the server sends in the same message as BEGIN (one round trip for both).

Revision ID: 0012_load
Revises: 0011_finance
Create Date: 2026-12-02 03:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tenants.rls import APP_ROLE, disable_tenant_rls, enable_tenant_rls, grant_dml

revision: str = '0012_load'
down_revision: str | None = '0011_finance'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATCHED = ('shop_interval_stats', 'shop_day_frt', 'sla_policies')

# One new version per statement for every shop it touched; the owner of a trigger's table is subject to
# forced RLS too, but a writer only ever touches rows it may see, so the versions it writes are its own.
TOUCH = '''
CREATE FUNCTION seatwise_touch_report_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO shop_report_versions (tenant_id, shop_id, version)
  SELECT tenant_id, shop_id, gen_random_uuid() FROM (SELECT DISTINCT tenant_id, shop_id FROM changed) c
  ON CONFLICT (tenant_id, shop_id) DO UPDATE SET version = EXCLUDED.version;
  RETURN NULL;
END $$
'''
# TRUNCATE has no transition table: forget every version (as staff, whoever truncates).
FORGET = '''
CREATE FUNCTION seatwise_forget_report_versions() RETURNS trigger LANGUAGE plpgsql SET app.staff = 'on' AS $$
BEGIN
  DELETE FROM shop_report_versions;
  RETURN NULL;
END $$
'''
# The scope of a transaction in one statement that can travel with its BEGIN (kit.db): why the caller is
# refused raised as SQLSTATE SW001 with the reason as its message (the rules of seatwise_refusal, 0007: a
# revoked token or key, a tenant that does not exist, a brand not active), else both settings set for the
# transaction. PL/pgSQL, whose statements keep their plans for the session: a third of seatwise_refusal's
# cost (an SQL function with a SET clause, planned at every call). It reads as staff for the checks and
# leaves the caller's settings in place on return (it has no SET clause: that would undo them).
ENTER = '''
CREATE FUNCTION seatwise_enter(staff text, tenant text, jti text, key text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  refusal text;
BEGIN
  PERFORM set_config('app.staff', 'on', true);
  IF jti <> '' AND EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = seatwise_enter.jti) THEN
    refusal := 'revoked';
  ELSIF key <> '' AND NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.id = key::uuid AND k.revoked_at IS NULL
                                  AND (k.expires_at IS NULL OR k.expires_at > now())) THEN
    refusal := 'revoked';
  ELSIF tenant <> '' THEN
    SELECT CASE WHEN count(*) = 0 THEN 'unknown tenant' WHEN bool_and(t.status = 'active') THEN NULL
                ELSE max(t.status) END INTO refusal
    FROM tenants t WHERE t.id = tenant::uuid;
  END IF;
  IF refusal IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'SW001', MESSAGE = refusal;
  END IF;
  PERFORM set_config('app.staff', staff, true), set_config('app.tenant_id', tenant, true);
END $$
'''
BACKFILL = '''
INSERT INTO shop_report_versions (tenant_id, shop_id, version)
SELECT tenant_id, shop_id, gen_random_uuid() FROM (
  SELECT DISTINCT tenant_id, shop_id FROM shop_interval_stats
  UNION SELECT DISTINCT tenant_id, shop_id FROM shop_day_frt
  UNION SELECT DISTINCT tenant_id, shop_id FROM sla_policies) s
'''


def upgrade() -> None:
    op.create_table('shop_report_versions',
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('shop_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'shop_id', name=op.f('pk_shop_report_versions'))
    )
    op.execute("SELECT set_config('app.staff', 'on', true)")  # the owner reads every tenant's rows
    op.execute(BACKFILL)
    enable_tenant_rls(op, 'shop_report_versions')
    grant_dml(op, 'shop_report_versions')
    op.execute(TOUCH)
    op.execute(FORGET)
    op.execute(ENTER)
    op.execute("REVOKE ALL ON FUNCTION seatwise_enter(text, text, text, text) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION seatwise_enter(text, text, text, text) TO {APP_ROLE}")
    for table in WATCHED:
        for event, rows in (('INSERT', 'NEW'), ('UPDATE', 'NEW'), ('DELETE', 'OLD')):
            op.execute(f"CREATE TRIGGER report_versions_{event.lower()} AFTER {event} ON {table} "
                       f"REFERENCING {rows} TABLE AS changed FOR EACH STATEMENT "
                       "EXECUTE FUNCTION seatwise_touch_report_versions()")
        op.execute(f"CREATE TRIGGER report_versions_truncate AFTER TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION seatwise_forget_report_versions()")


def downgrade() -> None:
    for table in WATCHED:
        for event in ('insert', 'update', 'delete', 'truncate'):
            op.execute(f"DROP TRIGGER report_versions_{event} ON {table}")
    op.execute("DROP FUNCTION seatwise_enter(text, text, text, text)")
    op.execute("DROP FUNCTION seatwise_forget_report_versions()")
    op.execute("DROP FUNCTION seatwise_touch_report_versions()")
    disable_tenant_rls(op, 'shop_report_versions')
    op.drop_table('shop_report_versions')
