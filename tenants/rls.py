"""Row-level security helpers used by migrations (DESIGN.md section 2).

A tenant-owned table shows a transaction its rows only when the transaction set `app.staff` to 'on'
(outsourcer staff: every tenant) or `app.tenant_id` to the row's tenant. Unset means no rows.
"""

from __future__ import annotations

from service.settings import APP_ROLE

STAFF_SETTING = "(SELECT current_setting('app.staff', true) = 'on')"
TENANT_SETTING = "(SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid)"


def tenant_predicate(column: str = "tenant_id") -> str:
    return f"{STAFF_SETTING} OR {column} = {TENANT_SETTING}"


def enable_tenant_rls(op, table: str, column: str = "tenant_id") -> None:
    """ENABLE and FORCE RLS on TABLE with the tenant isolation policy (reads and writes)."""
    predicate = tenant_predicate(column)
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({predicate}) WITH CHECK ({predicate})")


def disable_tenant_rls(op, table: str) -> None:
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")


def ensure_app_role(op) -> None:
    """The non-superuser role the server connects as (NOBYPASSRLS, DML only). Roles are cluster-wide,
    so this is idempotent and downgrades leave the role in place."""
    op.execute(f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
          END IF;
        END $$""")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")


def grant_dml(op, table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    op.execute(f"GRANT {privileges} ON {table} TO {APP_ROLE}")
