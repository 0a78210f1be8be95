"""Finance: the pure maths of costs, contracts, credits, statements, margins and exports.

No database, no HTTP: modules take dataclasses and return dataclasses; only ``exports`` writes, and only
to a file-like object it is given. Money is Decimal in CNY, rounded once at the line (``money``).

- ``money``: the rounding policy and the largest-remainder split.
- ``periods``: calendar months. ``refs``: ids.
- ``rates``: versioned rate books (agent loaded hourly cost, overtime multipliers, seat cost, overhead).
- ``costing``: labour, seat and overhead cost per shop, site and month, with the hours behind them.
- ``lines``: the statement line (charges, credits, adjustments) and its stable key.
- ``billing``: versioned contracts and the month's charge lines.
- ``credits``: SLA service credits from the SLA domain's breaches, capped, with earn-back.
- ``statements``: a brand's monthly statement, adjustments of closed periods, numbers, margins.
- ``balance``: service level against cost per shop, the marginal cost of a point, plan cost estimates.
- ``exports``: streamed CSV and XLSX (long format, one row per line).
"""
