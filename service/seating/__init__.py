"""Seating: rosters (shifts and their assignments to shops), labour rules, attendance and live rebalancing.

The modules here are pure maths with no I/O: `calendar` (holidays and overtime pay classes), `rules`
(labour rules as data, overtime, the independent roster checker), `problem` (the shapes of a roster problem
and its answer), `rostering` (the fast deterministic builder), `optimise` (CP-SAT improvement on it),
`attendance` (adherence, occupancy, actual overtime), `rebalance` (live KA protection) and `instances`
(deterministic generated problems for tests and benchmarks).
"""
