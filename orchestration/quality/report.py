"""What a validation found, in words a user can act on (no GX objects leak out of here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class QualityGateFailed(RuntimeError):
    """A blocking expectation failed: the data does not go further (not loaded / not published)."""

    def __init__(self, reports: list["SuiteReport"], what_happened: str, details: str | None = None):
        self.reports = reports
        if details is None:
            details = "\n".join(report.describe(only_failures=True) for report in reports)
        super().__init__(f"{what_happened}\n{details}".rstrip())


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, made readable."""

    expectation: str  # GX type, e.g. expect_column_values_to_be_in_set (Data Docs, metadata)
    column: str | None  # the column of the contract / mart the rule is about
    rule: str  # what was expected, in words: the check's name in every message
    success: bool
    blocking: bool
    observed: str  # what was found, in words
    examples: tuple[str, ...] = ()
    #: The suite's own name of the check (GX meta ``key``), for checks a gate also counts
    #: exactly outside GX (the mart gate on a sample); None for the others.
    key: str | None = None

    def describe(self) -> str:
        """``FAILED (warning) occurred_at: parses as an ISO-8601 timestamp; found ...``: the
        check is named by its column and what it expects, in words (GX type names such as
        ``expect_column_values_to_be_null`` on a helper column contradict what they check)."""
        level = "BLOCKING" if self.blocking else "warning"
        status = "ok" if self.success else f"FAILED ({level})"
        where = f" {self.column}:" if self.column else ""
        text = f"{status}{where} {self.rule}; found {self.observed}"
        if self.examples and not self.success:
            text += "; e.g. " + ", ".join(self.examples)
        return text


@dataclass(frozen=True)
class SuiteReport:
    """The outcome of one suite on one batch (a landing file, the mart)."""

    suite: str
    batch: str
    row_count: int
    outcomes: tuple[ExpectationOutcome, ...]
    notes: tuple[str, ...] = ()  # context printed under the headline (e.g. reasons)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking_failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.blocking and not o.success]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.blocking and not o.success]

    @property
    def passed(self) -> bool:
        """True when no blocking expectation failed (warnings do not block)."""
        return not self.blocking_failures

    @property
    def evaluated(self) -> int:
        return len(self.outcomes)

    @property
    def succeeded(self) -> int:
        return sum(o.success for o in self.outcomes)

    def headline(self) -> str:
        state = "passed" if self.passed else "FAILED"
        text = (
            f"GX suite {self.suite} on {self.batch} ({self.row_count:,} rows): {state}, "
            f"{self.succeeded}/{self.evaluated} expectations met"
        )
        if self.warnings:
            text += f", {len(self.warnings)} warning(s)"
        return text

    def describe(self, only_failures: bool = False) -> str:
        lines = [self.headline()]
        lines += [f"  {note}" for note in self.notes]
        for outcome in self.outcomes:
            if only_failures and outcome.success:
                continue
            lines.append("  - " + outcome.describe())
        return "\n".join(lines)

    def as_metadata(self) -> dict[str, Any]:
        """JSON-friendly summary for Dagster metadata and the refresh report."""
        return {
            "suite": self.suite,
            "batch": self.batch,
            "rows": self.row_count,
            "passed": self.passed,
            "expectations": self.evaluated,
            "met": self.succeeded,
            "failures": [o.describe() for o in self.outcomes if not o.success],
            **self.extra,
        }
