"""roster speed: overlaps inside a roster and inside a shift refused by set-based statement triggers

A Double 11 roster stores some 12,000 shifts and 44,000 assignments in one request. Two GiST exclusion
constraints made that the slowest part of building a roster: `no_overlap_in_roster` (roster, agent, during
over every roster's shifts) and `one_shop_at_a_time` (shift, during over every assignment) each insert a
GiST entry per row and probe it (some 20 microseconds a row, most of a second for the assignments). They
become statement triggers of the same names that check all the statement's rows at once, through btree
indexes, after taking the row locks that make concurrent writers of one roster (the roster's row) or one
shift (the shift's row) check one after another: each then sees what the one before committed. Under
REPEATABLE READ a writer would not see it, so the triggers refuse that isolation level (READ COMMITTED, the
application's, and SERIALIZABLE are safe). Still the database's guarantee, as foreign keys (triggers too)
are, whatever the application does; the refusal is SQLSTATE 23P01 (exclusion_violation) naming the
constraint as before.

`no_double_booking` (one agent in two places among live shifts) stays the GiST exclusion constraint it is:
draft shifts are not in it, so a roster's storing never pays for it; publishing does, once.

Revision ID: 0010_roster_speed
Revises: 0009_roster
Create Date: 2026-12-03 00:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_roster_speed'
down_revision: str | None = '0009_roster'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The triggers' functions: lock, then look for one pair of overlapping rows among the statement's rows and
# those stored (work_mem: a roster's 44,000 rows are hashed in memory, not spilled to disk). app.staff = 'on'
# inside the assignments' function only: the check must see every brand's assignments of a shift (one shift
# serves several brands), whoever writes.
_GUARD = """
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql
SET search_path = public, pg_temp SET work_mem = '32MB' {settings} AS $$
DECLARE
    clash record;
BEGIN
    IF current_setting('transaction_isolation') = 'repeatable read' THEN
        RAISE EXCEPTION '{constraint} is checked under READ COMMITTED or SERIALIZABLE isolation'
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    PERFORM 1 FROM {parent} WHERE id IN (SELECT {parent_key} FROM new_rows) ORDER BY id FOR NO KEY UPDATE;
    SELECT {clash} INTO clash FROM new_rows n JOIN {table} o ON {overlap} LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'conflicting key value violates exclusion constraint "{constraint}"'
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = '{constraint}', TABLE = '{table}',
                  DETAIL = format({detail});
    END IF;
    RETURN NULL;
END $$
"""

GUARDS = {
    'no_overlap_in_roster': {
        'name': 'seatwise_no_overlap_in_roster', 'table': 'shifts', 'settings': '',
        'parent': 'rosters', 'parent_key': 'roster_id',
        'clash': 'n.agent_id, n.roster_id, n.during AS new, o.id, o.during AS old',
        'overlap': 'o.roster_id = n.roster_id AND o.agent_id = n.agent_id AND o.during && n.during '
                   'AND o.id <> n.id',
        'detail': "'Agent %s in roster %s: %s overlaps shift %s (%s).', "
                  'clash.agent_id, clash.roster_id, clash.new, clash.id, clash.old',
    },
    'one_shop_at_a_time': {
        'name': 'seatwise_one_shop_at_a_time', 'table': 'shift_assignments',
        'settings': "SET app.staff = 'on'",
        'parent': 'shifts', 'parent_key': 'shift_id',
        'clash': 'n.shift_id, n.during AS new, o.during AS old',
        'overlap': 'o.shift_id = n.shift_id AND o.during && n.during '
                   'AND (o.tenant_id, o.id) <> (n.tenant_id, n.id)',
        'detail': "'Shift %s: assignments %s and %s overlap.', clash.shift_id, clash.new, clash.old",
    },
}


def _create_guard(constraint: str) -> None:
    g = GUARDS[constraint]
    op.execute(_GUARD.format(constraint=constraint, **g))
    for event in ('INSERT', 'UPDATE'):
        op.execute(f"CREATE TRIGGER {constraint}_on_{event.lower()} AFTER {event} ON {g['table']} "
                   f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {g['name']}()")


def _drop_guard(constraint: str) -> None:
    g = GUARDS[constraint]
    for event in ('insert', 'update'):
        op.execute(f"DROP TRIGGER IF EXISTS {constraint}_on_{event} ON {g['table']}")
    op.execute(f"DROP FUNCTION IF EXISTS {g['name']}()")


def upgrade() -> None:
    op.drop_constraint('no_overlap_in_roster', 'shifts')
    op.create_index(op.f('ix_shifts_roster_id_agent_id'), 'shifts', ['roster_id', 'agent_id'], unique=False)
    op.drop_constraint('one_shop_at_a_time', 'shift_assignments')
    for constraint in GUARDS:
        _create_guard(constraint)


def downgrade() -> None:
    for constraint in GUARDS:
        _drop_guard(constraint)
    op.create_exclude_constraint('one_shop_at_a_time', 'shift_assignments', (sa.column('shift_id'), '='),
                                 (sa.column('during'), '&&'), using='gist')
    op.drop_index(op.f('ix_shifts_roster_id_agent_id'), table_name='shifts')
    op.create_exclude_constraint('no_overlap_in_roster', 'shifts', (sa.column('roster_id'), '='),
                                 (sa.column('agent_id'), '='), (sa.column('during'), '&&'),
                                 where=sa.text('roster_id IS NOT NULL'), using='gist')

