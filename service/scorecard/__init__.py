"""Balanced scorecard: pure maths (no I/O) for QA reviews, employee-side measures and the scorecard itself.

- :mod:`service.scorecard.periods`: inclusive date periods and calendar months.
- :mod:`service.scorecard.evidence`: flags and the evidence they carry (metric, value, threshold, period).
- :mod:`service.scorecard.qa`: QA templates, review scores, IQS, pass rate, calibration, coaching effect.
- :mod:`service.scorecard.people`: eNPS, wellbeing, anonymous pulse breakdowns, attrition, workload.
- :mod:`service.scorecard.scoring`: KPI normalisation, versioned definitions, indices, headline,
  quadrant, BURN / SERVICE_RISK / BOTH / RECOVERY_FAILED flags, monthly scorecards, trends, client view.
"""
