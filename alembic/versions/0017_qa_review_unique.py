"""qa reviews: one per reviewer and conversation (per calibration session; per template outside calibration)

Two partial unique indexes on qa_reviews (tenant-owned, so both lead with tenant_id, Citus-ready):

- uq_qa_reviews_calibration (tenant_id, calibration_session_id, reviewer, conversation_id) WHERE
  calibration_session_id IS NOT NULL: a reviewer grades a conversation once in a calibration session (the
  alignment pairs each reviewer's grade with the benchmark's by conversation; a second grade made every read of
  the session, and the whole calibration list, answer 422);
- uq_qa_reviews_review (tenant_id, shop_id, conversation_id, reviewer, template_id) WHERE
  calibration_session_id IS NULL: outside calibration, one review per reviewer per conversation per template,
  Zendesk QA's rule (a conversation is its shop's external id; a duplicate would count twice in IQS and the
  pass rate, and nothing can edit or delete a review to undo it).

Existing duplicates are not resolved here: the upgrade refuses, naming how many there are and the query that
lists them, before it builds anything. Which of two grades is the right one is a QA lead's call (a coaching
session may cite either by id), not a migration's; delete the wrong ones, then upgrade again.

Revision ID: 0017_qa_review_unique
Revises: 0016_scorecard_evidence
Create Date: 2026-12-02 15:15:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017_qa_review_unique'
down_revision: str | None = '0016_scorecard_evidence'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    'uq_qa_reviews_calibration': (['tenant_id', 'calibration_session_id', 'reviewer', 'conversation_id'],
                                  'calibration_session_id IS NOT NULL'),
    'uq_qa_reviews_review': (['tenant_id', 'shop_id', 'conversation_id', 'reviewer', 'template_id'],
                             'calibration_session_id IS NULL'),
}


def duplicates_query(columns: list[str], where: str) -> str:
    keys = ', '.join(columns)
    return (f'SELECT {keys}, count(*) AS reviews, array_agg(id ORDER BY created_at, id) AS ids '
            f'FROM qa_reviews WHERE {where} GROUP BY {keys} HAVING count(*) > 1')


def upgrade() -> None:
    # The owner is subject to the forced RLS of qa_reviews unless it is a superuser: read as staff, or the
    # check would see no rows and the index would fail on duplicates it never saw.
    op.execute("SELECT set_config('app.staff', 'on', true)")
    bind = op.get_bind()
    found = []
    for name, (columns, where) in INDEXES.items():
        query = duplicates_query(columns, where)
        groups = bind.execute(sa.text(f'SELECT count(*), coalesce(sum(reviews), 0) FROM ({query}) d')).one()
        if groups[0]:
            found.append(f'{groups[0]} sets of duplicate QA reviews ({groups[1]} reviews) break {name} '
                         f'({", ".join(columns)} WHERE {where}); list them with: {query}')
    if found:
        raise RuntimeError('0017_qa_review_unique cannot build its unique indexes: ' + '; '.join(found)
                           + '. Delete the reviews that are wrong (keep one of each set), then upgrade again.')
    for name, (columns, where) in INDEXES.items():
        op.create_index(name, 'qa_reviews', columns, unique=True, postgresql_where=sa.text(where))


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='qa_reviews')
