"""Great Expectations quality gates, suites in code (GX 1.x, pandas batches).

- :mod:`orchestration.quality.landing_suite`: every new landing file, before it is loaded.
  A flood of rows that staging would quarantine stops the load; a trickle is reported.
- :mod:`orchestration.quality.mart_suite`: ``marts.lead_scores`` before it is published.

Both validate pandas DataFrames of batch size (one landing file, the mart): GX 1.x cannot
validate DuckDB through its SQL data source, and warehouse-scale invariants are dbt tests.
"""

from orchestration.quality.report import ExpectationOutcome, QualityGateFailed, SuiteReport

__all__ = ["ExpectationOutcome", "QualityGateFailed", "SuiteReport"]
