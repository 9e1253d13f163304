"""The deterministic sample both gates hand GX when a batch is larger than their cap.

GX on pandas costs seconds per 100k rows and the batch must fit in memory, so a gate
validates at most about ``max_rows`` rows and counts what a sample could miss exactly in
SQL (landing: the quarantine shares; mart: nulls, duplicates, ranges, vocabularies).
Rows are chosen by a hash of their key: the same rows every run, and no aliasing with a
periodic pattern in the data (every n-th row could all be good or all be bad).
"""

from __future__ import annotations


def sample_step(rows: int, max_rows: int | None) -> int:
    """Keep one row in ``step`` (1: every row): the smallest step leaving <= ~max_rows."""
    return -(-rows // max_rows) if max_rows else 1  # ceiling division


def hashed_sample(key_sql: str, rows: int, max_rows: int | None) -> str | None:
    """A DuckDB predicate keeping about ``max_rows`` of ``rows`` rows, chosen by the hash
    of ``key_sql`` (a column list); None when every row fits."""
    step = sample_step(rows, max_rows)
    return f"hash({key_sql}) % {step} = 0" if step > 1 else None
