"""The mart gate: ``marts.lead_scores`` is validated before it is published to BI.

Every expectation here is blocking: the serving files stay at the previous version when
one fails. The mart is read from the warehouse (read-only, after dbt has exited) as a
pandas DataFrame; dbt's own tests keep guarding the warehouse-scale invariants.

A mart of more than ``gx_mart_max_rows`` leads (LEADSCORE_GX_MART_MAX_ROWS) is handed to
GX as a hashed sample of about that many leads (GX on pandas: ~70 s and gigabytes for 2M
leads). What one bad lead outside the sample would hide is counted exactly in SQL over
every lead (:func:`exact_counts`): the row count, null keys / scores / vocabulary values,
duplicate lead_ids, scores (and probabilities) out of range, unknown grades, tiers, stages
and actions. Those counts replace GX's sample counts in the report, so a failure reads the
same either way. The spreads (not all leads equal), the mean probability and the grade
shares are judged on the sample, which estimates them within a fraction of a percent.

The gate knows which dimensions the shop feeds (``int_lead_spine``: profiles, events,
orders), as the score weights do: a check that means nothing for the shop's shape is not
run, and the report says which and why (``not_run``). The fit grade comes from the
profile alone (a lead without one is grade D by definition), so the share per grade is
judged on the leads that have a profile, and not at all in a shop without profiles.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd

from orchestration import pipeline
from orchestration.config import Settings
from orchestration.quality import reference
from orchestration.quality.gx_runner import MAX_EXAMPLES, GxValidator, _fmt_share, _fmt_value
from orchestration.quality.report import ExpectationOutcome, SuiteReport
from orchestration.quality.sampling import hashed_sample

MART = "marts.lead_scores"
SPINE = "intermediate.int_lead_spine"
SCORE_COLUMNS = (
    "lead_score",
    "demographic_score",
    "engagement_score",
    "page_intent_score",
    "purchase_score",
    "behaviour_score",
)
COLUMNS = (
    "lead_id",
    *SCORE_COLUMNS,
    "fit_grade",
    "engagement_tier",
    "lifecycle_stage",
    "recommended_action",
)
#: The predictive score's columns, checked when the mart has probabilities.
PROBABILITY_COLUMNS = ("purchase_probability", "propensity_method", "model_version")
#: Distribution checks only make sense on enough leads.
MIN_ROWS_FOR_STDEV = 10
MIN_ROWS_FOR_GRADE_SHARE = 50


#: The fit grade of the leads with a profile (null for the others): the grade-share column.
PROFILED_GRADE = "profiled_fit_grade"


@dataclass(frozen=True)
class ShopShape:
    """Which landing entities feed the shop's leads (any lead at ``as_of``)."""

    profiles: bool = True
    events: bool = True
    orders: bool = True

    def as_metadata(self) -> dict[str, bool]:
        return {"profiles": self.profiles, "events": self.events, "orders": self.orders}

    def describe(self) -> str:
        fed = [name for name, on in self.as_metadata().items() if on]
        return "shop feeds " + (", ".join(fed) if fed else "nothing")


@dataclass(frozen=True)
class ExactCount:
    """How many of the mart's leads break one check, counted in SQL over every lead, and
    the first of them (as GX names examples: ``value (lead_id L0001)``)."""

    count: int
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class MartBatch:
    """The mart's checked columns (plus ``has_profile`` per lead when known), the number
    of known leads and the shop's shape (default: every dimension fed).

    ``frame`` is the whole mart, or a hashed sample of it when ``rows`` (the mart's leads)
    is larger; ``exact`` holds the counts over every lead of the checks a sample could
    miss, by check key (see :func:`exact_counts`; empty: GX's counts on ``frame`` are
    exact because ``frame`` is the whole mart)."""

    frame: pd.DataFrame
    known_leads: int
    shape: ShopShape = ShopShape()
    #: The validation fold's observed purchase rate of the model behind the mart's
    #: probabilities (predictive.model_evaluations); None when no model scored the mart.
    validation_rate: float | None = None
    rows: int | None = None
    exact: Mapping[str, ExactCount] = field(default_factory=dict)

    @property
    def mart_rows(self) -> int:
        return len(self.frame) if self.rows is None else self.rows

    @property
    def sampled(self) -> bool:
        return self.mart_rows > len(self.frame)


def _literal(value: object) -> str:
    return str(int(value)) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"


def vocabularies() -> dict[str, tuple[list, str]]:
    """The allowed values of each vocabulary column and the seed they come from."""
    return {
        "fit_grade": (reference.fit_grades(), "rules/fit_grades"),
        "engagement_tier": (reference.engagement_tiers(), "rules/engagement_tiers"),
        "lifecycle_stage": (reference.lifecycle_stages(), "rules/lifecycle_stages"),
        "recommended_action": (reference.recommended_actions(), "rules/recommended_actions"),
    }


#: How the report names the rows that break a check, by the kind of check (the
#: ``unexpected_label`` of the GX expectation with that key).
EXACT_LABELS = {"not_null": "unexpected", "unique": "duplicated", "between": "out of range",
                "in_set": "unknown values"}


def exact_checks() -> dict[str, str]:
    """The checks a sample could miss, by key (the GX expectation's meta ``key``): a
    DuckDB predicate true for a lead that breaks it (nulls are out of scope of a range or
    a vocabulary, as in GX). Duplicate lead_ids (``unique:lead_id``) are counted apart."""
    checks = {"not_null:lead_id": "lead_id is null"}
    for column in SCORE_COLUMNS:
        checks[f"not_null:{column}"] = f"{column} is null"
        checks[f"between:{column}"] = f"({column} < 0 or {column} > 100)"
    for column, (values, _) in vocabularies().items():
        checks[f"not_null:{column}"] = f"{column} is null"
        checks[f"in_set:{column}"] = f"{column} not in ({', '.join(map(_literal, values))})"
    checks["between:purchase_probability"] = "(purchase_probability < 0 or purchase_probability > 1)"
    return checks


def exact_counts(con: duckdb.DuckDBPyConnection, relation: str = MART
                 ) -> tuple[int, dict[str, ExactCount]]:
    """The leads of ``relation`` and, per check a sample could miss, how many break it
    (one scan for the predicates, one aggregation for duplicate lead_ids) with the first
    few of them (queried only for a check that fails)."""
    checks = exact_checks()
    row = con.execute(
        "select count(*), " + ", ".join(f"count(*) filter (where {p})" for p in checks.values())
        + f" from {relation}").fetchone()
    rows, counts = int(row[0]), dict(zip(checks, (int(n) for n in row[1:])))
    duplicates = f"select lead_id from {relation} where lead_id is not null " \
                 "group by lead_id having count(*) > 1"
    counts["unique:lead_id"] = int(con.execute(
        f"select count(*) from {relation} where lead_id in ({duplicates})").fetchone()[0])
    checks["unique:lead_id"] = f"lead_id in ({duplicates})"
    exact = {}
    for key, count in counts.items():
        examples: tuple[str, ...] = ()
        if count and key != "not_null:lead_id":  # a lead without a key has no name
            column = key.split(":", 1)[1]
            found = con.execute(
                f"select {column}, lead_id from {relation} where {checks[key]} "
                f"order by lead_id nulls first limit {MAX_EXAMPLES}").fetchall()
            examples = tuple(
                f"lead_id {lead}" if value is None else f"{_fmt_value(value)} (lead_id {lead})"
                for value, lead in found)
        exact[key] = ExactCount(count, examples)
    return rows, exact


def read_mart(settings: Settings) -> MartBatch:
    """The mart's checked columns (a hashed sample of at most about
    ``settings.gx_mart_max_rows`` leads), the exact counts over every lead, which lead
    has a profile, the number of known leads and the dimensions the shop feeds (all from
    ``int_lead_spine``)."""
    columns = ", ".join(f"mart.{c}" for c in (*COLUMNS, *PROBABILITY_COLUMNS))
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        rows, exact = exact_counts(con)
        sample = hashed_sample("mart.lead_id", rows, settings.gx_mart_max_rows)
        frame = con.execute(
            f"select {columns}, coalesce(spine.has_profile, false) as has_profile "
            f"from {MART} as mart left join {SPINE} as spine on mart.lead_id = spine.lead_id"
            + (f" where {sample} order by mart.lead_id" if sample else "")
        ).df()
        versions = [row[0] for row in con.execute(
            f"select distinct model_version from {MART} where model_version is not null "
            "order by model_version limit 1").fetchall()]
        rate = None
        if versions and pipeline._table_exists(con, "predictive", "model_evaluations"):
            row = con.execute(
                "select avg(observed_rate) from predictive.model_evaluations "
                "where version = ? and fold = 'validation'", [str(versions[0])]).fetchone()
            rate = None if row is None or row[0] is None else float(row[0])
        known, profiles, events, orders = con.execute(
            "select count(*), coalesce(bool_or(has_profile), false), "
            "coalesce(bool_or(has_events), false), coalesce(bool_or(has_orders), false) "
            f"from {SPINE}"
        ).fetchone()
    return MartBatch(frame=frame, known_leads=int(known),
                     shape=ShopShape(bool(profiles), bool(events), bool(orders)),
                     validation_rate=rate, rows=rows, exact=exact)


def not_run(batch: MartBatch) -> list[str]:
    """The checks that mean nothing for this shop's shape or size, each with the reason."""
    skipped = []
    profiled = _profiled_leads(batch.frame)
    if not batch.shape.profiles:
        skipped.append(
            "one fit grade holds at most LEADSCORE_MAX_GRADE_SHARE of the leads: the shop "
            "feeds no profiles (leads/), so every lead is fit grade D by definition")
    elif profiled <= MIN_ROWS_FOR_GRADE_SHARE:
        skipped.append(
            "one fit grade holds at most LEADSCORE_MAX_GRADE_SHARE of the leads: only "
            f"{profiled} lead(s) have a profile (judged on more than {MIN_ROWS_FOR_GRADE_SHARE})")
    if len(batch.frame) <= MIN_ROWS_FOR_STDEV:
        skipped.append(
            f"not all leads scored the same: only {len(batch.frame)} lead(s) "
            f"(judged on more than {MIN_ROWS_FOR_STDEV})")
    return skipped


def _profiled_leads(frame: pd.DataFrame) -> int:
    if "has_profile" not in frame.columns:
        return len(frame)
    return int(frame["has_profile"].fillna(False).astype(bool).sum())


def _with_profiled_grade(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame plus the fit grade of the leads with a profile (null for the others)."""
    frame = frame.copy()
    if "has_profile" in frame.columns:
        profiled = frame["has_profile"].fillna(False).astype(bool)
        frame[PROFILED_GRADE] = frame["fit_grade"].where(profiled, None)
    else:
        frame[PROFILED_GRADE] = frame["fit_grade"]
    return frame


def _row_count_rule(known_leads: int) -> str:
    return f"one row per known lead ({SPINE} has {known_leads:,})"


def build_suite(
    rows: int, known_leads: int, max_grade_share: float, profiled_leads: int | None = None,
    shape: ShopShape = ShopShape(), row_count: bool = True,
) -> gx.ExpectationSuite:
    """The mart suite; distribution checks are added only where the shop's shape and size
    give them a meaning (see :func:`not_run`). ``rows``: the rows GX sees; without
    ``row_count`` (GX sees a sample) the row count is left to the exact counts.

    The checks that :func:`exact_counts` also counts carry its key in their meta."""
    profiled_leads = rows if profiled_leads is None else profiled_leads
    suite = gx.ExpectationSuite(name="mart_lead_scores")
    add = suite.add_expectation
    if row_count:
        add(gxe.ExpectTableRowCountToEqual(
            value=known_leads, description=_row_count_rule(known_leads),
            meta={"column": None, "key": "row_count"}))
    add(gxe.ExpectColumnValuesToNotBeNull(column="lead_id", description="filled in",
                                          meta={"key": "not_null:lead_id"}))
    add(gxe.ExpectColumnValuesToBeUnique(
        column="lead_id", description="one row per lead",
        meta={"unexpected_label": "duplicated", "key": "unique:lead_id"}))
    for column in SCORE_COLUMNS:
        add(gxe.ExpectColumnValuesToNotBeNull(column=column, description="score filled in",
                                              meta={"key": f"not_null:{column}"}))
        add(gxe.ExpectColumnValuesToBeBetween(
            column=column, min_value=0, max_value=100, description="score in 0-100",
            meta={"unexpected_label": "out of range", "key": f"between:{column}"}))
    vocabulary = vocabularies()
    for column, (values, seed) in vocabulary.items():
        add(gxe.ExpectColumnValuesToNotBeNull(column=column, description="filled in",
                                              meta={"key": f"not_null:{column}"}))
        add(gxe.ExpectColumnValuesToBeInSet(
            column=column, value_set=values, description=f"one of the values of seeds/{seed}.csv",
            meta={"unexpected_label": "unknown values", "key": f"in_set:{column}"}))
    if rows > MIN_ROWS_FOR_STDEV:
        add(gxe.ExpectColumnStdevToBeBetween(
            column="lead_score", min_value=0, strict_min=True,
            description=f"not all leads scored the same (stdev > 0 on > {MIN_ROWS_FOR_STDEV} leads)"))
    if shape.profiles and profiled_leads > MIN_ROWS_FOR_GRADE_SHARE:
        for grade in vocabulary["fit_grade"][0]:
            # "at least (1 - max) of the leads are not grade X" == "share of X <= max";
            # GX leaves out the nulls (leads without a profile) of the column it judges
            add(gxe.ExpectColumnValuesToNotBeInSet(
                column=PROFILED_GRADE, value_set=[grade], mostly=max(0.0, 1.0 - max_grade_share),
                description=(
                    f"grade {grade} holds at most {max_grade_share:.0%} of the leads with a "
                    "profile (LEADSCORE_MAX_GRADE_SHARE)"
                ),
                meta={"unexpected_label": f"grade {grade}", "column": "fit_grade",
                      "judged_on_non_null": True}))
    return suite


def add_probability_checks(suite: gx.ExpectationSuite, frame: pd.DataFrame,
                           validation_rate: float | None, max_ratio: float) -> list[str]:
    """The purchase probability, when the mart has one: in [0, 1], not all equal, and its
    mean within a factor ``max_ratio`` (LEADSCORE_MAX_PROBABILITY_RATIO) of the purchase
    rate observed on the model's validation fold. Returns what was not run, with why."""
    if "purchase_probability" not in frame.columns:
        return []
    scored = int(frame["purchase_probability"].notna().sum())
    if scored == 0:
        return ["purchase probability checks: no lead has a probability (no model trained "
                "yet: `leadscore train`, or LEADSCORE_TRAIN_IF_MISSING)"]
    add = suite.add_expectation
    add(gxe.ExpectColumnValuesToBeBetween(
        column="purchase_probability", min_value=0, max_value=1,
        description="a probability in [0, 1]",
        meta={"unexpected_label": "out of range", "key": "between:purchase_probability"}))
    skipped = []
    if scored > MIN_ROWS_FOR_STDEV:
        add(gxe.ExpectColumnStdevToBeBetween(
            column="purchase_probability", min_value=0, strict_min=True,
            description=f"not all leads have the same probability (stdev > 0 on > "
                        f"{MIN_ROWS_FOR_STDEV} leads)"))
    else:
        skipped.append(f"not all probabilities equal: only {scored} lead(s) have one")
    if validation_rate is not None and validation_rate > 0:
        low, high = validation_rate / max_ratio, min(1.0, validation_rate * max_ratio)
        add(gxe.ExpectColumnMeanToBeBetween(
            column="purchase_probability", min_value=low, max_value=high,
            description=(f"mean within a factor {max_ratio:g} of the purchase rate observed "
                         f"on the model's validation fold ({validation_rate:.3f}: "
                         f"{low:.3f}-{high:.3f}; LEADSCORE_MAX_PROBABILITY_RATIO)")))
    else:
        skipped.append("mean probability near the validation fold's purchase rate: the "
                       "model's evaluation is not in predictive.model_evaluations")
    return skipped


def validate_mart(settings: Settings, batch: MartBatch | None = None) -> tuple[SuiteReport, Path]:
    """Validate the mart; returns the report and the Data Docs index page."""
    batch = batch or read_mart(settings)
    validator = GxValidator(settings.gx_docs_dir / "mart", index_columns=["lead_id"])
    profiled = _profiled_leads(batch.frame)
    suite = build_suite(len(batch.frame), batch.known_leads, settings.max_grade_share,
                        profiled_leads=profiled, shape=batch.shape, row_count=not batch.sampled)
    grades = batch.frame["fit_grade"].value_counts(normalize=True).sort_index()
    skipped = not_run(batch) + add_probability_checks(
        suite, batch.frame, batch.validation_rate, settings.max_probability_ratio)
    notes = []
    if batch.sampled:
        notes.append(
            f"validated on a hashed sample of {len(batch.frame):,} of {batch.mart_rows:,} leads "
            "(LEADSCORE_GX_MART_MAX_ROWS); the row count and the counts of nulls, duplicate "
            "lead_ids, values out of range and unknown values below are exact (SQL over every "
            "lead), the spreads, mean and grade shares are judged on the sample")
    of = "sampled leads" if batch.sampled else "leads"
    notes.append(f"{batch.shape.describe()}; {profiled:,} of {len(batch.frame):,} {of} have a profile")
    if len(grades):
        notes.append("fit grades: " + ", ".join(f"{g} {share:.0%}" for g, share in grades.items()))
    notes += [f"not run: {reason}" for reason in skipped]
    report = validator.validate(
        _with_profiled_grade(batch.frame),
        suite,
        batch_name=MART,
        notes=notes,
        extra={"known_leads": batch.known_leads, "shop_feeds": batch.shape.as_metadata(),
               "not_run": skipped, "rows": batch.mart_rows,
               "validated_rows": len(batch.frame), "sampled": batch.sampled},
        adjust=lambda outcomes: with_exact_counts(outcomes, batch),
    )
    return report, validator.build_docs()


def with_exact_counts(outcomes: tuple[ExpectationOutcome, ...], batch: MartBatch
                      ) -> tuple[ExpectationOutcome, ...]:
    """GX's outcomes with the exact counts of ``batch`` in place of GX's counts on the
    sample (same wording: a failure reads the same whether the mart was sampled or not),
    and the exact row count in front when GX saw only a sample."""
    rows = batch.mart_rows
    adjusted = []
    for outcome in outcomes:
        exact = batch.exact.get(outcome.key) if outcome.key else None
        if exact is None:
            adjusted.append(outcome)
            continue
        label = EXACT_LABELS[outcome.key.split(":", 1)[0]]
        adjusted.append(dataclasses.replace(
            outcome, success=exact.count == 0, observed=f"{_fmt_share(exact.count, rows)} {label}",
            # GX's examples when the sample holds some (they name the value as GX sees it)
            examples=(outcome.examples or exact.examples) if exact.count else ()))
    if batch.sampled:
        adjusted.insert(0, ExpectationOutcome(
            expectation="expect_table_row_count_to_equal", column=None,
            rule=_row_count_rule(batch.known_leads), success=rows == batch.known_leads,
            blocking=True, observed=f"observed value {rows}", key="row_count"))
    return tuple(adjusted)
