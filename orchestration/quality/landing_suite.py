"""The landing gate: every new landing file is validated before it is loaded.

The file's rows are judged the way staging will judge them (the same DuckDB parsing as
the dbt macros in macros/cross_db.sql, the same vocabularies from the seeds), turned
into a pandas DataFrame and validated with GX:

- required columns present and filled, timestamps / amounts / coordinates parse,
  event types, order statuses and currencies known, amounts >= 0, coordinates in range,
  no duplicate ids within the file: *warnings* with a ``mostly`` threshold, reported;
- the share of rows staging would quarantine at most ``max_quarantine_share``
  (LEADSCORE_MAX_QUARANTINE_SHARE): the only *blocking* expectation, judged on at least
  ``MIN_ROWS_FOR_SHARE`` rows (a file, or the small files of one load pooled). A trickle
  of bad rows is quarantined by dbt and reported; a flood stops the load (the whole load
  transaction rolls back, nothing of the run is kept).

Re-deliveries across files are not judged here (they need the warehouse); staging does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd

from orchestration.config import Settings
from orchestration.landing import CONTRACT, LandingFile
from orchestration.quality import reference
from orchestration.quality.gx_runner import GxValidator
from orchestration.quality.report import QualityGateFailed, SuiteReport

#: Non-blocking expectations warn when more than this share of rows break them.
WARN_MOSTLY = 0.99
#: The quarantine share is judged on at least this many rows (a file, or small files pooled).
MIN_ROWS_FOR_SHARE = 50
#: The column naming the reason a row would be quarantined (null: the row is fine).
REASON = "quarantine_reason"

#: How staging parses typed columns (DuckDB versions of the dbt macros in cross_db.sql).
PARSERS: dict[str, str] = {
    "timestamp": "timezone('UTC', try_cast(trim({c}) as timestamptz))",
    "date": "try_cast(trim({c}) as date)",
    "amount": "cast(try_cast(trim({c}) as decimal(18, 2)) as double)",
    "integer": "try_cast(trim({c}) as integer)",
    "float": "try_cast(trim({c}) as double)",
}
KIND_LABEL: dict[str, str] = {
    "timestamp": "an ISO-8601 timestamp",
    "date": "a date (YYYY-MM-DD)",
    "amount": "a plain number",
    "integer": "a whole number",
    "float": "a number",
}


@dataclass(frozen=True)
class EntityRules:
    """What the gate checks for one landing entity."""

    typed: dict[str, str]  # column -> parser kind
    lower: tuple[str, ...] = ()  # text columns staging lower-cases
    upper: tuple[str, ...] = ()  # text columns staging upper-cases
    value_sets: dict[str, tuple[list, str]] = field(default_factory=dict)  # values, seed
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    unique_key: tuple[str, ...] = ()
    reason_sql: str = ""  # CASE branches, in staging's order; {now} is the load time limit


def entity_rules() -> dict[str, EntityRules]:
    events = reference.event_types()
    statuses = reference.order_statuses()
    currencies = reference.currencies()
    return {
        "events": EntityRules(
            typed={"occurred_at": "timestamp"},
            lower=("event_type",),
            value_sets={"event_type": (events, "reference/event_types")},
            unique_key=("event_id",),
            reason_sql=f"""
                when event_id is null then 'missing_id'
                when occurred_at is null then 'unparseable_timestamp'
                when lead_id is null and anonymous_id is null
                    then 'missing_lead_and_anonymous_id'
                when event_type is null or event_type not in ({_sql_list(events)})
                    then 'unknown_event_type'
                when occurred_at > {{now}} then 'future_timestamp'
            """,
        ),
        "leads": EntityRules(
            typed={
                "birth_date": "date",
                "age": "integer",
                "latitude": "float",
                "longitude": "float",
                "created_at": "timestamp",
                "updated_at": "timestamp",
            },
            upper=("country_code",),
            ranges={"latitude": (-90, 90), "longitude": (-180, 180), "age": (0, 120)},
            unique_key=("lead_id", "version_at"),
            reason_sql="""
                when lead_id is null then 'missing_id'
                when created_at__invalid is not null then 'unparseable_timestamp'
                when updated_at__invalid is not null then 'unparseable_timestamp'
                when coalesce(updated_at, created_at) > {now} then 'future_timestamp'
            """,
        ),
        "orders": EntityRules(
            typed={
                "ordered_at": "timestamp",
                "updated_at": "timestamp",
                "amount": "amount",
                "item_count": "integer",
            },
            lower=("status",),
            upper=("currency",),
            value_sets={
                "status": (statuses, "reference/order_statuses"),
                "currency": (currencies, "reference/currency_rates"),
            },
            ranges={"amount": (0, None), "item_count": (0, None)},
            unique_key=("order_id", "version_at"),
            reason_sql=f"""
                when order_id is null then 'missing_id'
                when lead_id is null then 'missing_lead_id'
                when ordered_at is null then 'unparseable_timestamp'
                when updated_at__invalid is not null then 'unparseable_timestamp'
                when amount is null then 'non_numeric_amount'
                when amount < 0 then 'negative_amount'
                when coalesce(status, 'completed') not in ({_sql_list(statuses)})
                    then 'unknown_status'
                when coalesce(currency, 'EUR') not in ({_sql_list(currencies)})
                    then 'unknown_currency'
                when coalesce(updated_at, ordered_at) > {{now}} then 'future_timestamp'
            """,
        ),
    }


VERSION_AT = {
    "leads": "coalesce(updated_at, created_at)",
    "orders": "coalesce(updated_at, ordered_at)",
}


def _sql_list(values: list) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def gate_frame(
    entity: str, relation: duckdb.DuckDBPyRelation, rules: EntityRules, max_rows: int | None = None
) -> pd.DataFrame:
    """The file's rows as staging will see them: trimmed text, parsed values, the raw
    text of every value that does not parse (``<column>__invalid``) and the reason the
    row would be quarantined (``quarantine_reason``, null when the row is fine).

    A file of more than ``max_rows`` rows is judged on a sample of about ``max_rows`` rows
    chosen by a hash of the row number (the same rows every time, and no aliasing with
    periodic patterns in the file): shares are estimated within a fraction of a percent
    at 100k rows, and staging still judges every row exactly."""
    tolerance = int(reference.dbt_var("future_tolerance_minutes", 60))
    now = f"(timezone('UTC', now()) + interval {tolerance} minute)"
    cleaned: list[str] = []
    invalid: list[str] = []
    for column in CONTRACT[entity]:
        text = f"nullif(trim({_q(column)}), '')"
        if column in rules.typed:
            parsed = PARSERS[rules.typed[column]].format(c=_q(column))
            cleaned.append(f"{parsed} as {_q(column)}")
            invalid.append(
                f"case when {text} is not null and {parsed} is null then {_q(column)} end "
                f"as {_q(column + '__invalid')}"
            )
        elif column in rules.lower:
            cleaned.append(f"lower({text}) as {_q(column)}")
        elif column in rules.upper:
            cleaned.append(f"upper({text}) as {_q(column)}")
        else:
            cleaned.append(f"{text} as {_q(column)}")
    version = f", {VERSION_AT[entity]} as version_at" if entity in VERSION_AT else ""
    sample = ""
    if max_rows:
        rows = relation.aggregate("count(*)").fetchone()[0]
        step = -(-rows // max_rows)  # ceiling division
        if step > 1:
            sample = f"where hash(_source_row) % {step} = 0"
    sql = f"""
        with cleaned as (
            select _source_row, {", ".join(cleaned + invalid)}
            from landing_file
            {sample}
        )
        select *{version},
            case {rules.reason_sql.format(now=now)} end as {REASON}
        from cleaned
        order by _source_row
    """
    return relation.query("landing_file", sql).df()


def _share_expectation(max_quarantine_share: float) -> gxe.Expectation:
    """The one blocking expectation: share of rows staging would quarantine."""
    return gxe.ExpectColumnValuesToBeNull(
        column=REASON, mostly=max(0.0, 1.0 - max_quarantine_share), severity="critical",
        description=(
            f"at most {max_quarantine_share:.0%} of the rows would be quarantined "
            "(LEADSCORE_MAX_QUARANTINE_SHARE)"
        ),
        meta={"unexpected_label": "would be quarantined"})


def build_suite(
    entity: str, rules: EntityRules, max_quarantine_share: float | None, name: str | None = None
) -> gx.ExpectationSuite:
    """The GX suite of one landing entity (built in code, versioned with the project).
    ``max_quarantine_share`` None: without the blocking share expectation (small files)."""
    suite = gx.ExpectationSuite(name=name or f"landing_{entity}")
    warn = {"severity": "warning", "mostly": WARN_MOSTLY}
    for column, required in CONTRACT[entity].items():
        if not required:
            continue
        typed = column in rules.typed  # a typed column holds the parsed value
        suite.add_expectation(gxe.ExpectColumnToExist(
            column=column, description="required column present", severity="critical"))
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(
            column=column, description="required value filled in", **warn,
            meta={"unexpected_label": "empty or unparseable" if typed else "empty"}))
    for column, kind in rules.typed.items():
        suite.add_expectation(gxe.ExpectColumnValuesToBeNull(
            column=f"{column}__invalid", description=f"parses as {KIND_LABEL[kind]}", **warn,
            meta={"column": column, "unexpected_label": "do not parse"}))
    for column, (values, seed) in rules.value_sets.items():
        suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(
            column=column, value_set=values, **warn,
            description=f"one of the values of seeds/{seed}.csv",
            meta={"unexpected_label": "unknown values"}))
    for column, (low, high) in rules.ranges.items():
        bounds = " and ".join(
            part for part in (
                f">= {low}" if low is not None else "", f"<= {high}" if high is not None else ""
            ) if part
        )
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(
            column=column, min_value=low, max_value=high, **warn,
            description=f"in range ({bounds})", meta={"unexpected_label": "out of range"}))
    if len(rules.unique_key) == 1:
        suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(
            column=rules.unique_key[0], description="no duplicate ids within the file", **warn,
            meta={"unexpected_label": "duplicated"}))
    elif rules.unique_key:
        suite.add_expectation(gxe.ExpectCompoundColumnsToBeUnique(
            column_list=list(rules.unique_key), **warn,
            description=f"no duplicate ({', '.join(rules.unique_key)}) within the file",
            meta={"unexpected_label": "duplicated"}))
    if max_quarantine_share is not None:
        suite.add_expectation(_share_expectation(max_quarantine_share))
    return suite


def pooled_suite(entity: str, max_quarantine_share: float) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name=f"landing_{entity}_small_files_pooled")
    suite.add_expectation(_share_expectation(max_quarantine_share))
    return suite


class LandingGate:
    """The ``inspect`` hook of :func:`orchestration.landing.load`: validates each new file
    and raises :class:`QualityGateFailed` when a blocking expectation fails.

    A share says little about a handful of rows, so the blocking share is judged on at
    least ``MIN_ROWS_FOR_SHARE`` rows: a file that large alone, smaller files of the same
    entity pooled together (within one load) once the pool is that large.
    """

    def __init__(self, settings: Settings):
        self.max_quarantine_share = settings.max_quarantine_share
        self.max_rows = settings.gx_max_rows_per_file
        self.docs_dir: Path = settings.gx_docs_dir / "landing"
        self.validator = GxValidator(self.docs_dir, index_columns=["_source_file", "_source_row"])
        self.rules = entity_rules()
        share = self.max_quarantine_share
        self.suites = {
            (entity, large): build_suite(
                entity, rules, share if large else None,
                name=f"landing_{entity}" if large else f"landing_{entity}_small_file")
            for entity, rules in self.rules.items()
            for large in (True, False)
        }
        self.pooled_suites = {entity: pooled_suite(entity, share) for entity in self.rules}
        self.pools: dict[str, pd.DataFrame] = {}
        self.reports: list[SuiteReport] = []
        self.files_validated = 0

    def __call__(self, file: LandingFile, relation: duckdb.DuckDBPyRelation) -> None:
        failed = [report for report in self.validate(file, relation) if not report.passed]
        if failed:
            self.build_docs()
            raise QualityGateFailed(
                failed,
                f"landing file {file.path} did not pass the landing quality gate: nothing was "
                f"loaded (the load rolled back); Data Docs: {self.docs_dir / 'index.html'}",
            )

    def validate(self, file: LandingFile, relation: duckdb.DuckDBPyRelation) -> list[SuiteReport]:
        """Validate one file (and the pool of small files it joins); returns the reports."""
        rules = self.rules[file.entity]
        frame = gate_frame(file.entity, relation, rules, self.max_rows)
        large = len(frame) >= MIN_ROWS_FOR_SHARE
        reports = [self.validator.validate(
            frame,
            self.suites[(file.entity, large)],
            batch_name=file.relative_path,
            notes=_reason_notes(frame, large),
            extra={"would_quarantine": _reason_counts(frame)},
        )]
        self.files_validated += 1
        if not large and len(frame):
            reports += self._validate_pool(file, frame)
        self.reports += reports
        return reports

    def _validate_pool(self, file: LandingFile, frame: pd.DataFrame) -> list[SuiteReport]:
        part = frame[["_source_row", REASON]].assign(_source_file=file.relative_path)
        pool = pd.concat([self.pools[file.entity], part]) if file.entity in self.pools else part
        self.pools[file.entity] = pool
        if len(pool) < MIN_ROWS_FOR_SHARE:
            return []
        files = pool["_source_file"].nunique()
        return [self.validator.validate(
            pool.reset_index(drop=True),
            self.pooled_suites[file.entity],
            batch_name=f"{file.entity}: {files} small files up to {file.relative_path}",
            notes=_reason_notes(pool, True),
        )]

    def build_docs(self) -> Path | None:
        """Write the Data Docs of the files validated so far (None when there were none)."""
        return self.validator.build_docs() if self.reports else None


def _reason_counts(frame: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame[REASON].value_counts().items()}


def _reason_notes(frame: pd.DataFrame, judged: bool) -> list[str]:
    counts = _reason_counts(frame)
    notes = []
    if counts:
        notes.append("would be quarantined by staging: " + ", ".join(
            f"{reason} {count:,}" for reason, count in counts.items()))
    if not judged:
        notes.append(f"fewer than {MIN_ROWS_FOR_SHARE} rows: the quarantine share is judged "
                     "on the small files of this load pooled together")
    return notes
