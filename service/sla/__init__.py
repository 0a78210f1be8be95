"""Per-shop SLA tracking.

Pure modules (no I/O):

- ``records``: the conversation record, and validation of one incoming NDJSON/CSV record into a
  :class:`~service.conversations.records.ConversationRecord` or a
  :class:`~service.conversations.records.Rejection` whose reason strings are exported constants (the SQL
  validation path uses the same wording).
- ``metrics``: 15-minute interval rollups with additive counters (and an FRT histogram whose
  binning keeps service level exact and percentiles within max(1 s, 2 %)), SLA metrics from
  rollups or from raw records, local-time buckets (hour, day, week, month), targets and verdicts.
"""
