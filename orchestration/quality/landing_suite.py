"""The landing gate: the new rows of every load are validated before the load commits.

One validation per entity and load (a GX validation has a fixed cost of ~0.3 s, so one
per file would dominate a load of many small files). The load's rows are judged the way
staging will judge them (the same DuckDB parsing as the dbt macros in
macros/cross_db.sql, the same vocabularies from the seeds), turned into a pandas
DataFrame and validated with GX:

- required columns present and filled, timestamps / amounts / coordinates parse,
  event types, order statuses and currencies known, amounts >= 0, coordinates in range,
  no duplicate ids within a file: *warnings* with a ``mostly`` threshold, reported;
- the share of each file's rows that staging would quarantine at most
  ``max_quarantine_share`` (LEADSCORE_MAX_QUARANTINE_SHARE): the only *blocking*
  expectation. The share is counted exactly over every row of the file in DuckDB and
  judged on at least ``MIN_ROWS_FOR_SHARE`` rows: a file that large alone, the smaller
  files of one load pooled together. A trickle of bad rows is quarantined by dbt and
  reported; a flood stops the load (the whole load transaction rolls back, nothing of
  the run is kept).

A load of more than ``gx_max_rows`` rows (LEADSCORE_GX_MAX_ROWS) is validated on a sample (see
:func:`gate_frame`); the blocking shares and the reason counts are always exact.
Re-deliveries across loads are not judged here (they need the warehouse); staging does.
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


#: Every file keeps at least this many of its first rows in a sample, so that each file of
#: a load is in the validated frame (and its exact blocking share with it).
ROWS_KEPT_PER_FILE = 10
#: The column holding the exact share of the row's file (or of the load's small files
#: pooled) that staging would quarantine; null when fewer than MIN_ROWS_FOR_SHARE rows.
FILE_SHARE = "file_quarantine_share"


@dataclass(frozen=True)
class FileShare:
    """How many rows of one file (or of the small files pooled) staging would quarantine."""

    batch: str  # the file, or "<n> small files"
    rows: int
    quarantined: int

    @property
    def share(self) -> float:
        return self.quarantined / self.rows if self.rows else 0.0


@dataclass
class GateBatch:
    """A load's rows of one entity as the gate sees them."""

    frame: pd.DataFrame  # the rows validated (all, or a sample), see gate_frame
    rows: int  # all rows of the load
    reasons: dict[str, int]  # exact counts of the reasons staging would quarantine for
    shares: list[FileShare]  # exact shares per judged file / pool


def gate_frame(
    entity: str, relation: duckdb.DuckDBPyRelation, rules: EntityRules, max_rows: int | None = None
) -> GateBatch:
    """The load's rows as staging will see them: trimmed text, parsed values, the raw
    text of every value that does not parse (``<column>__invalid``), the reason the row
    would be quarantined (``quarantine_reason``, null when the row is fine) and the exact
    share of its file that would be (``file_quarantine_share``).

    ``relation`` has the contract columns (text), ``_source_file`` and ``_source_row``.
    Counting happens in DuckDB over every row; only the frame handed to GX is sampled
    when the load has more than ``max_rows`` rows: about ``max_rows`` rows chosen by a hash
    of file and row number (the same rows every time, no aliasing with periodic patterns
    in a file) plus the first rows of every file. Shares of warnings are then estimated
    within a fraction of a percent at 100k rows; staging still judges every row exactly."""
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
    judged = f"""
        with cleaned as (
            select _source_file, _source_row, {", ".join(cleaned + invalid)}
            from landing_batch
        )
        select *{version},
            case {rules.reason_sql.format(now=now)} end as {REASON}
        from cleaned
    """
    # 1. exact counts per file and reason, over every row
    counted = relation.query("landing_batch", f"""
        select _source_file, {REASON}, count(*) as n
        from ({judged}) as judged
        group by all
    """).fetchall()
    per_file: dict[str, list[int]] = {}
    reasons: dict[str, int] = {}
    for source_file, reason, n in counted:
        totals = per_file.setdefault(source_file, [0, 0])
        totals[0] += n
        if reason is not None:
            totals[1] += n
            reasons[reason] = reasons.get(reason, 0) + n
    reasons = dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))
    rows = sum(total for total, _ in per_file.values())
    shares, file_shares = _file_shares(per_file)
    # 2. the frame for GX: every row, or a hashed sample plus the first rows of each file
    sample = ""
    step = -(-rows // max_rows) if max_rows else 1  # ceiling division
    if step > 1:
        sample = (f"where hash(_source_file, _source_row) % {step} = 0 "
                  f"or _source_row <= {ROWS_KEPT_PER_FILE}")
    frame = relation.query("landing_batch", f"""
        select * from ({judged}) as judged
        {sample}
        order by _source_file, _source_row
    """).df()
    frame[FILE_SHARE] = frame["_source_file"].map(file_shares).astype("float64")
    return GateBatch(frame=frame, rows=rows, reasons=reasons, shares=shares)


def _file_shares(per_file: dict[str, list[int]]) -> tuple[list[FileShare], dict[str, float]]:
    """Judged shares: a file of at least MIN_ROWS_FOR_SHARE rows alone, the smaller files
    pooled (judged once the pool has MIN_ROWS_FOR_SHARE rows)."""
    shares: list[FileShare] = []
    by_file: dict[str, float] = {}
    small = {f: counts for f, counts in per_file.items() if counts[0] < MIN_ROWS_FOR_SHARE}
    for source_file, (total, bad) in sorted(per_file.items()):
        if source_file not in small:
            shares.append(FileShare(source_file, total, bad))
            by_file[source_file] = shares[-1].share
    pool_rows = sum(total for total, _ in small.values())
    if small and pool_rows >= MIN_ROWS_FOR_SHARE:
        pool = FileShare(f"{len(small)} small files pooled", pool_rows,
                         sum(bad for _, bad in small.values()))
        shares.append(pool)
        by_file.update(dict.fromkeys(small, pool.share))
    return shares, by_file


def build_suite(entity: str, rules: EntityRules, max_quarantine_share: float) -> gx.ExpectationSuite:
    """The GX suite of one landing entity (built in code, versioned with the project)."""
    suite = gx.ExpectationSuite(name=f"landing_{entity}")
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
    if rules.unique_key:
        key = ["_source_file", *rules.unique_key]
        suite.add_expectation(gxe.ExpectCompoundColumnsToBeUnique(
            column_list=key, **warn,
            description=f"no duplicate ({', '.join(rules.unique_key)}) within a file",
            meta={"column": ", ".join(rules.unique_key), "unexpected_label": "duplicated"}))
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(
        column=FILE_SHARE, min_value=0, max_value=max_quarantine_share, severity="critical",
        description=(
            f"at most {max_quarantine_share:.0%} of each file's rows would be quarantined "
            "(LEADSCORE_MAX_QUARANTINE_SHARE; small files of a load judged together)"
        ),
        meta={"column": REASON, "unexpected_label": "rows in files over the limit"}))
    return suite


class LandingGate:
    """The ``inspect`` hook of :func:`orchestration.landing.load`: validates the new rows
    of each entity (all files of the load together) and raises :class:`QualityGateFailed`
    when a blocking expectation fails."""

    def __init__(self, settings: Settings):
        self.max_quarantine_share = settings.max_quarantine_share
        self.max_rows = settings.gx_max_rows
        self.docs_dir: Path = settings.gx_docs_dir / "landing"
        self.validator = GxValidator(self.docs_dir, index_columns=["_source_file", "_source_row"])
        self.rules = entity_rules()
        self.suites = {
            entity: build_suite(entity, rules, self.max_quarantine_share)
            for entity, rules in self.rules.items()
        }
        self.reports: list[SuiteReport] = []
        self.files_validated = 0

    def __call__(
        self, entity: str, files: list[LandingFile], relation: duckdb.DuckDBPyRelation
    ) -> None:
        report = self.validate(entity, files, relation)
        if not report.passed:
            self.build_docs()
            failing = [s.batch for s in report.extra["shares"]
                       if s.share > self.max_quarantine_share]
            raise QualityGateFailed(
                [report],
                f"landing file(s) {', '.join(failing)} did not pass the landing quality gate: "
                f"nothing was loaded (the load rolled back); "
                f"Data Docs: {self.docs_dir / 'index.html'}",
            )

    def validate(
        self, entity: str, files: list[LandingFile], relation: duckdb.DuckDBPyRelation
    ) -> SuiteReport:
        """Validate one entity's new rows of a load; returns the report."""
        batch = gate_frame(entity, relation, self.rules[entity], self.max_rows)
        name = (files[0].relative_path if len(files) == 1
                else f"{entity}: {len(files)} files {files[0].relative_path} .. "
                     f"{files[-1].relative_path}")
        report = self.validator.validate(
            batch.frame,
            self.suites[entity],
            batch_name=name,
            notes=_notes(batch, self.max_quarantine_share),
            extra={"would_quarantine": batch.reasons, "shares": batch.shares, "rows": batch.rows},
        )
        self.files_validated += len(files)
        self.reports.append(report)
        return report

    def build_docs(self) -> Path | None:
        """Write the Data Docs of the loads validated so far (None when there were none)."""
        return self.validator.build_docs() if self.reports else None


def _notes(batch: GateBatch, max_share: float) -> list[str]:
    notes = []
    if len(batch.frame) < batch.rows:
        notes.append(f"validated on a sample of {len(batch.frame):,} of {batch.rows:,} rows; "
                     "the quarantine shares and counts below are exact")
    if batch.reasons:
        notes.append("would be quarantined by staging: " + ", ".join(
            f"{reason} {count:,}" for reason, count in batch.reasons.items()))
    for share in batch.shares:
        if share.share > max_share:
            notes.append(f"{share.batch}: {share.quarantined:,} of {share.rows:,} rows "
                         f"({share.share:.1%}) would be quarantined")
    if not batch.shares:
        notes.append(f"fewer than {MIN_ROWS_FOR_SHARE} rows: too few to judge the quarantine "
                     "share")
    return notes
