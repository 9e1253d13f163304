"""The mart gate: ``marts.lead_scores`` is validated before it is published to BI.

Every expectation here is blocking: the serving files stay at the previous version when
one fails. The mart is read from the warehouse (read-only, after dbt has exited) as a
pandas DataFrame; dbt's own tests keep guarding the warehouse-scale invariants.

The gate knows which dimensions the shop feeds (``int_lead_spine``: profiles, events,
orders), as the score weights do: a check that means nothing for the shop's shape is not
run, and the report says which and why (``not_run``). The fit grade comes from the
profile alone (a lead without one is grade D by definition), so the share per grade is
judged on the leads that have a profile, and not at all in a shop without profiles.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd

from orchestration import pipeline
from orchestration.config import Settings
from orchestration.quality import reference
from orchestration.quality.gx_runner import GxValidator
from orchestration.quality.report import SuiteReport

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
class MartBatch:
    """The mart's checked columns (plus ``has_profile`` per lead when known), the number
    of known leads and the shop's shape (default: every dimension fed)."""

    frame: pd.DataFrame
    known_leads: int
    shape: ShopShape = ShopShape()
    #: The validation fold's observed purchase rate of the model behind the mart's
    #: probabilities (predictive.model_evaluations); None when no model scored the mart.
    validation_rate: float | None = None


def read_mart(settings: Settings) -> MartBatch:
    """The mart's checked columns, which lead has a profile, the number of known leads and
    the dimensions the shop feeds (all from ``int_lead_spine``)."""
    columns = ", ".join(f"mart.{c}" for c in (*COLUMNS, *PROBABILITY_COLUMNS))
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        frame = con.execute(
            f"select {columns}, coalesce(spine.has_profile, false) as has_profile "
            f"from {MART} as mart left join {SPINE} as spine on mart.lead_id = spine.lead_id"
        ).df()
        versions = [v for v in frame["model_version"].dropna().unique()]
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
                     validation_rate=rate)


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


def build_suite(
    rows: int, known_leads: int, max_grade_share: float, profiled_leads: int | None = None,
    shape: ShopShape = ShopShape(),
) -> gx.ExpectationSuite:
    """The mart suite; distribution checks are added only where the shop's shape and size
    give them a meaning (see :func:`not_run`)."""
    profiled_leads = rows if profiled_leads is None else profiled_leads
    suite = gx.ExpectationSuite(name="mart_lead_scores")
    add = suite.add_expectation
    add(gxe.ExpectTableRowCountToEqual(
        value=known_leads,
        description=f"one row per known lead ({SPINE} has {known_leads:,})",
        meta={"column": None}))
    add(gxe.ExpectColumnValuesToNotBeNull(column="lead_id", description="filled in"))
    add(gxe.ExpectColumnValuesToBeUnique(
        column="lead_id", description="one row per lead", meta={"unexpected_label": "duplicated"}))
    for column in SCORE_COLUMNS:
        add(gxe.ExpectColumnValuesToNotBeNull(column=column, description="score filled in"))
        add(gxe.ExpectColumnValuesToBeBetween(
            column=column, min_value=0, max_value=100, description="score in 0-100",
            meta={"unexpected_label": "out of range"}))
    vocabularies = {
        "fit_grade": (reference.fit_grades(), "rules/fit_grades"),
        "engagement_tier": (reference.engagement_tiers(), "rules/engagement_tiers"),
        "lifecycle_stage": (reference.lifecycle_stages(), "rules/lifecycle_stages"),
        "recommended_action": (reference.recommended_actions(), "rules/recommended_actions"),
    }
    for column, (values, seed) in vocabularies.items():
        add(gxe.ExpectColumnValuesToNotBeNull(column=column, description="filled in"))
        add(gxe.ExpectColumnValuesToBeInSet(
            column=column, value_set=values, description=f"one of the values of seeds/{seed}.csv",
            meta={"unexpected_label": "unknown values"}))
    if rows > MIN_ROWS_FOR_STDEV:
        add(gxe.ExpectColumnStdevToBeBetween(
            column="lead_score", min_value=0, strict_min=True,
            description=f"not all leads scored the same (stdev > 0 on > {MIN_ROWS_FOR_STDEV} leads)"))
    if shape.profiles and profiled_leads > MIN_ROWS_FOR_GRADE_SHARE:
        for grade in vocabularies["fit_grade"][0]:
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
        description="a probability in [0, 1]", meta={"unexpected_label": "out of range"}))
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
                        profiled_leads=profiled, shape=batch.shape)
    grades = batch.frame["fit_grade"].value_counts(normalize=True).sort_index()
    skipped = not_run(batch) + add_probability_checks(
        suite, batch.frame, batch.validation_rate, settings.max_probability_ratio)
    notes = [f"{batch.shape.describe()}; {profiled:,} of {len(batch.frame):,} leads have a profile"]
    if len(grades):
        notes.append("fit grades: " + ", ".join(f"{g} {share:.0%}" for g, share in grades.items()))
    notes += [f"not run: {reason}" for reason in skipped]
    report = validator.validate(
        _with_profiled_grade(batch.frame),
        suite,
        batch_name=MART,
        notes=notes,
        extra={"known_leads": batch.known_leads, "shop_feeds": batch.shape.as_metadata(),
               "not_run": skipped},
    )
    return report, validator.build_docs()
