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

import dataclasses
import re
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
from orchestration.quality.report import ExpectationOutcome, QualityGateFailed, SuiteReport
from orchestration.quality.sampling import hashed_sample

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
class Reason:
    """One branch of staging's quarantine CASE: the condition (SQL over the cleaned
    columns; ``{now}`` is the load time limit), the reason and the column(s) it is about
    (several: the first one filled in is named, e.g. ``updated_at`` else ``created_at``)."""

    condition: str
    reason: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class EntityRules:
    """What the gate checks for one landing entity."""

    typed: dict[str, str]  # column -> parser kind
    lower: tuple[str, ...] = ()  # text columns staging lower-cases
    upper: tuple[str, ...] = ()  # text columns staging upper-cases
    value_sets: dict[str, tuple[list, str]] = field(default_factory=dict)  # values, seed
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    unique_key: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = ()  # staging's quarantine CASE, in its order


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
            reasons=(  # macros/landing_events.sql
                Reason("event_id is null", "missing_id", ("event_id",)),
                Reason("occurred_at is null", "unparseable_timestamp", ("occurred_at",)),
                Reason("lead_id is null and anonymous_id is null",
                       "missing_lead_and_anonymous_id", ("lead_id", "anonymous_id")),
                Reason(f"event_type is null or event_type not in ({_sql_list(events)})",
                       "unknown_event_type", ("event_type",)),
                Reason("occurred_at > {now}", "future_timestamp", ("occurred_at",)),
            ),
        ),
        "leads": EntityRules(
            typed={
                "birth_date": "date",
                "age": "integer",
                "latitude": "float",
                "longitude": "float",
                "created_at": "timestamp",
                "updated_at": "timestamp",
                "consent_updated_at": "timestamp",
            },
            upper=("country_code",),
            ranges={"latitude": (-90, 90), "longitude": (-180, 180), "age": (0, 120)},
            unique_key=("lead_id", "version_at"),
            reasons=(  # models/staging/landing/base_landing__leads.sql
                Reason("lead_id is null", "missing_id", ("lead_id",)),
                Reason("created_at__invalid is not null", "unparseable_timestamp", ("created_at",)),
                Reason("updated_at__invalid is not null", "unparseable_timestamp", ("updated_at",)),
                Reason("consent_updated_at__invalid is not null", "unparseable_timestamp",
                       ("consent_updated_at",)),
                Reason("coalesce(updated_at, created_at) > {now}", "future_timestamp",
                       ("updated_at", "created_at")),
                Reason("consent_updated_at > {now}", "future_timestamp", ("consent_updated_at",)),
            ),
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
            reasons=(  # models/staging/landing/base_landing__orders.sql
                Reason("order_id is null", "missing_id", ("order_id",)),
                Reason("lead_id is null", "missing_lead_id", ("lead_id",)),
                Reason("ordered_at is null", "unparseable_timestamp", ("ordered_at",)),
                Reason("updated_at__invalid is not null", "unparseable_timestamp", ("updated_at",)),
                Reason("amount is null", "non_numeric_amount", ("amount",)),
                Reason("amount < 0", "negative_amount", ("amount",)),
                Reason(f"coalesce(status, 'completed') not in ({_sql_list(statuses)})",
                       "unknown_status", ("status",)),
                Reason(f"coalesce(currency, 'EUR') not in ({_sql_list(currencies)})",
                       "unknown_currency", ("currency",)),
                Reason("ordered_at > {now}", "future_timestamp", ("ordered_at",)),
                Reason("updated_at > {now}", "future_timestamp", ("updated_at",)),
            ),
        ),
        "campaign_sends": EntityRules(
            typed={"sent_at": "timestamp"},
            lower=("channel",),
            value_sets={"channel": (list(SEND_CHANNELS), "the campaign channels (email, ads, sales)")},
            unique_key=("campaign_id", "lead_id", "sent_at"),
            reasons=(  # models/staging/landing/base_landing__campaign_sends.sql
                Reason("campaign_id is null", "missing_id", ("campaign_id",)),
                Reason("lead_id is null", "missing_lead_id", ("lead_id",)),
                Reason("sent_at is null", "unparseable_timestamp", ("sent_at",)),
                Reason(f"channel is not null and channel not in ({_sql_list(list(SEND_CHANNELS))})",
                       "unknown_channel", ("channel",)),
                Reason(f"is_control is not null and lower(is_control) not in ({_sql_list(list(FLAG_TEXTS))})",
                       "unparseable_flag", ("is_control",)),
                Reason("sent_at > {now}", "future_timestamp", ("sent_at",)),
            ),
        ),
    }


#: What base_landing__campaign_sends accepts.
SEND_CHANNELS = ("email", "ads", "sales")
FLAG_TEXTS = ("true", "t", "1", "yes", "y", "false", "f", "0", "no", "n")


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


@dataclass(frozen=True)
class Example:
    """A row staging would quarantine: where it is and the value at fault (None: empty)."""

    file: str
    row: int
    column: str
    value: str | None

    def describe(self) -> str:
        value = "empty" if self.value is None else repr(self.value if len(self.value) <= 40
                                                        else self.value[:37] + "...")
        return f"{self.column} {value} (file {self.file}, row {self.row})"


@dataclass
class GateBatch:
    """A load's rows of one entity as the gate sees them."""

    frame: pd.DataFrame  # the rows validated (all, or a sample), see gate_frame
    rows: int  # all rows of the load
    reasons: dict[str, int]  # exact counts of the reasons staging would quarantine for
    shares: list[FileShare]  # exact shares per judged file / pool
    #: the first EXAMPLES_PER_REASON rows of each reason (by file and row), exact
    examples: dict[str, list[Example]] = field(default_factory=dict)


#: Rows shown per quarantine reason (in messages and ``leadscore validate``).
EXAMPLES_PER_REASON = 3
#: The column a row's quarantine reason is about, and its value as delivered.
REASON_COLUMN = "quarantine_column"
REASON_VALUE = "quarantine_value"


def _reason_sql(rules: EntityRules, now: str) -> str:
    """Staging's quarantine CASE and, branch by branch, the column at fault and its value
    as delivered (the raw text of a value that does not parse)."""

    def filled(column: str) -> str:
        invalid = f" or {_q(column + '__invalid')} is not null" if column in rules.typed else ""
        return f"({_q(column)} is not null{invalid})"

    def value(column: str) -> str:
        text = f"cast({_q(column)} as varchar)"
        return f"coalesce({_q(column + '__invalid')}, {text})" if column in rules.typed else text

    reasons, columns, values = [], [], []
    for branch in rules.reasons:
        condition = branch.condition.format(now=now)
        reasons.append(f"when {condition} then {_sql_list([branch.reason])}")
        label = _sql_list([", ".join(branch.columns)])
        if len(branch.columns) > 1:
            label = "case " + " ".join(
                f"when {filled(c)} then {_sql_list([c])}" for c in branch.columns
            ) + f" else {label} end"
        columns.append(f"when {condition} then {label}")
        values.append(f"when {condition} then coalesce({', '.join(value(c) for c in branch.columns)})"
                      if len(branch.columns) > 1 else f"when {condition} then {value(branch.columns[0])}")
    return (f"case {' '.join(reasons)} end as {REASON}, "
            f"case {' '.join(columns)} end as {REASON_COLUMN}, "
            f"case {' '.join(values)} end as {REASON_VALUE}")


_DECIMAL_COMMA = re.compile(r"[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+")
_DAY_FIRST = re.compile(r"(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})(\D.*)?")
_HINTS = {
    "decimal_comma": (
        "{column}: values such as {example} use a decimal comma; the landing contract expects "
        "a plain number with a decimal point (12.50)"
    ),
    "day_first": (
        "{column}: values such as {example} look like day-first (European) dates; the landing "
        "contract expects ISO-8601 dates and timestamps (2026-06-01, 2026-06-01T10:00:00Z)"
    ),
}


def format_hints(rules: EntityRules, batch: GateBatch) -> list[str]:
    """What the contract expects, for values in a format it does not read (a decimal
    comma, a day-first date), and what to do. Looked for in the values that do not parse
    (the first rows of each typed column in the validated frame) and in the examples."""
    candidates = [e for rows in batch.examples.values() for e in rows]
    frame = batch.frame
    for column in rules.typed:
        invalid = f"{column}__invalid"
        if invalid in frame.columns:
            rows = frame.loc[frame[invalid].notna(), ["_source_file", "_source_row", invalid]]
            candidates += [Example(f, int(r), column, v) for f, r, v in rows.head(20).itertuples(
                index=False)]
    found: dict[tuple[str, str], Example] = {}
    for example in sorted(candidates, key=lambda e: (e.file, e.row)):
        kind, text = rules.typed.get(example.column), (example.value or "").strip()
        if kind in ("amount", "float", "integer") and _DECIMAL_COMMA.fullmatch(text):
            found.setdefault(("decimal_comma", example.column), example)
        match = _DAY_FIRST.fullmatch(text)
        if kind in ("timestamp", "date") and match and int(match[1]) <= 31 and int(match[2]) <= 12:
            found.setdefault(("day_first", example.column), example)
    return [
        _HINTS[hint].format(column=column, example=f"{example.value!r} (file {example.file}, "
                            f"row {example.row})") + f". {_option_hint(hint, example)}"
        for (hint, column), example in found.items()
    ]


def _option_hint(hint: str, example: Example) -> str:
    """The ``_format.yml`` option that would load such values (orchestration.landing_formats)."""
    from orchestration.landing import CONVERT
    from orchestration.landing_formats import FORMAT_FILE

    where = f"{example.file.split('/', 1)[0]}/{FORMAT_FILE}"
    if hint == "decimal_comma":
        return f"Set `decimal: ','` in {where} (or {CONVERT})"
    text = (example.value or "").strip()
    match = _DAY_FIRST.fullmatch(text)
    separator = text[len(match[1])]
    year = "%Y" if len(match[3]) == 4 else "%y"
    time = " (with the time part of the values, e.g. '%H:%M:%S')" if match[4] else ""
    return (f"Set `date_format: '%d{separator}%m{separator}{year}'`{time} in {where} "
            f"(or {CONVERT})")


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
            {_reason_sql(rules, now)}
        from cleaned
    """
    # 1. exact counts per file and reason, over every row, and the first rows of each
    counted = relation.query("landing_batch", f"""
        select _source_file, {REASON}, count(*) as n,
            arg_min({{'row': _source_row, 'column': {REASON_COLUMN}, 'value': {REASON_VALUE}}},
                    _source_row, {EXAMPLES_PER_REASON}) filter (where {REASON} is not null)
        from ({judged}) as judged
        group by all
    """).fetchall()
    per_file: dict[str, list[int]] = {}
    reasons: dict[str, int] = {}
    examples: dict[str, list[Example]] = {}
    for source_file, reason, n, first_rows in counted:
        totals = per_file.setdefault(source_file, [0, 0])
        totals[0] += n
        if reason is not None:
            totals[1] += n
            reasons[reason] = reasons.get(reason, 0) + n
            examples.setdefault(reason, []).extend(
                Example(source_file, int(r["row"]), r["column"], r["value"]) for r in first_rows or [])
    reasons = dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0])))
    examples = {reason: sorted(rows, key=lambda e: (e.file, e.row))[:EXAMPLES_PER_REASON]
                for reason, rows in examples.items()}
    rows = sum(total for total, _ in per_file.values())
    shares, file_shares = _file_shares(per_file)
    # 2. the frame for GX: every row, or a hashed sample plus the first rows of each file
    hashed = hashed_sample("_source_file, _source_row", rows, max_rows)
    sample = f"where {hashed} or _source_row <= {ROWS_KEPT_PER_FILE}" if hashed else ""
    frame = relation.query("landing_batch", f"""
        select * from ({judged}) as judged
        {sample}
        order by _source_file, _source_row
    """).df()
    frame[FILE_SHARE] = frame["_source_file"].map(file_shares).astype("float64")
    return GateBatch(frame=frame, rows=rows, reasons=reasons, shares=shares, examples=examples)


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
            column=column, **warn,
            description="required value filled in" + (" and parseable" if typed else ""),
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
        meta={"column": None, "unexpected_label": "rows in files over the limit",
              "quarantine_share": True}))
    return suite


class LandingGate:
    """The ``inspect`` hook of :func:`orchestration.landing.load`: validates the new rows
    of each entity (all files of the load together) and raises :class:`QualityGateFailed`
    when a blocking expectation fails."""

    def __init__(self, settings: Settings, *, docs: bool = True):
        self.write_docs = docs  # False: no Data Docs (``leadscore validate``)
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
            docs = self.build_docs()
            raise QualityGateFailed([report], *self.failure_message(entity, report, docs))

    def failure_message(
        self, entity: str, report: SuiteReport, docs: Path | None = None
    ) -> tuple[str, str]:
        """What stopped the load and what to do (said once), and the failed expectations."""
        limit = self.max_quarantine_share
        over = [s for s in report.extra["shares"] if s.share > limit]
        lines = [
            f"more than {limit:.0%} of the rows of {len(over)} {entity} file(s) would be "
            "quarantined (the landing gate's limit, LEADSCORE_MAX_QUARANTINE_SHARE): the gate "
            "stopped the load and nothing of it was kept.",
            *(f"  {share.batch}: {share.quarantined:,} of {share.rows:,} rows "
              f"({share.share:.1%}) would be quarantined" for share in over),
            *describe_reasons(report.extra["would_quarantine"], report.extra["examples"]),
            *(f"Hint: {hint}" for hint in report.extra["hints"]),
            "What to do: correct these rows at the source and deliver the file(s) again "
            "(`leadscore validate PATH` checks a delivery without loading it), or raise "
            "LEADSCORE_MAX_QUARANTINE_SHARE to load them and quarantine the bad rows.",
        ]
        details = [report.headline()]
        details += [f"  {note}" for note in report.notes if note.startswith("validated on a sample")]
        details += ["  - " + o.describe() for o in report.outcomes if not o.success]
        if docs is not None and docs.exists():
            details.append(f"Quality page (GX results, offline): {docs}")
        return "\n".join(lines), "\n".join(details)

    def validate(
        self, entity: str, files: list[LandingFile], relation: duckdb.DuckDBPyRelation
    ) -> SuiteReport:
        """Validate one entity's new rows of a load; returns the report."""
        rules = self.rules[entity]
        batch = gate_frame(entity, relation, rules, self.max_rows)
        name = (files[0].relative_path if len(files) == 1
                else f"{entity}: {len(files)} files {files[0].relative_path} .. "
                     f"{files[-1].relative_path}")
        hints = format_hints(rules, batch)
        report = self.validator.validate(
            batch.frame,
            self.suites[entity],
            batch_name=name,
            notes=_notes(batch, self.max_quarantine_share) + [f"hint: {h}" for h in hints],
            extra={"would_quarantine": batch.reasons, "shares": batch.shares, "rows": batch.rows,
                   "examples": batch.examples, "hints": hints},
        )
        report = dataclasses.replace(report, outcomes=tuple(
            _share_outcome(o, batch.shares, self.max_quarantine_share)
            if o.blocking and o.column is None else o
            for o in report.outcomes))
        self.files_validated += len(files)
        self.reports.append(report)
        return report

    def build_docs(self) -> Path | None:
        """Write the Data Docs of the loads validated so far (None when there were none)."""
        return self.validator.build_docs() if self.reports and self.write_docs else None


def describe_reasons(reasons: dict[str, int], examples: dict[str, list[Example]]) -> list[str]:
    """One line per reason staging would give: the count and the first rows."""
    if not reasons:
        return []
    lines = ["Rows that would be quarantined, by reason (and the first of them):"]
    width = max(len(reason) for reason in reasons)
    for reason, count in reasons.items():
        shown = "; ".join(e.describe() for e in examples.get(reason, []))
        lines.append(f"  {reason:<{width}} {count:>9,}" + (f"  e.g. {shown}" if shown else ""))
    return lines


def _share_outcome(outcome: ExpectationOutcome, shares: list[FileShare], limit: float
                   ) -> ExpectationOutcome:
    """The blocking check, said per file (GX sees one share value per row, not per file)."""
    over = [s for s in shares if s.share > limit]
    if over:
        observed = f"{len(over)} of {len(shares)} file(s) over the limit: " + ", ".join(
            f"{s.batch} {s.share:.1%} ({s.quarantined:,} of {s.rows:,} rows)" for s in over)
    elif shares:
        top = max(shares, key=lambda s: s.share)
        observed = f"every file within the limit (at most {top.share:.1%}, {top.batch})"
    else:
        observed = f"too few rows to judge (fewer than {MIN_ROWS_FOR_SHARE})"
    return dataclasses.replace(outcome, observed=observed, examples=())


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
