"""The mart gate: ``marts.lead_scores`` is validated before it is published to BI.

Every expectation here is blocking: the serving files stay at the previous version when
one fails. The mart is read from the warehouse (read-only, after dbt has exited) as a
pandas DataFrame; dbt's own tests keep guarding the warehouse-scale invariants.
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
#: Distribution checks only make sense on enough leads.
MIN_ROWS_FOR_STDEV = 10
MIN_ROWS_FOR_GRADE_SHARE = 50


@dataclass(frozen=True)
class MartBatch:
    frame: pd.DataFrame
    known_leads: int


def read_mart(settings: Settings) -> MartBatch:
    """The mart's checked columns and the number of known leads (``int_lead_spine``)."""
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        frame = con.execute(f"select {', '.join(COLUMNS)} from {MART}").df()
        known = int(con.execute(f"select count(*) from {SPINE}").fetchone()[0])
    return MartBatch(frame=frame, known_leads=known)


def build_suite(rows: int, known_leads: int, max_grade_share: float) -> gx.ExpectationSuite:
    """The mart suite; size-dependent distribution checks are added only on enough rows."""
    suite = gx.ExpectationSuite(name="mart_lead_scores")
    add = suite.add_expectation
    add(gxe.ExpectTableRowCountToEqual(
        value=known_leads,
        description=f"one row per known lead ({SPINE} has {known_leads:,})"))
    add(gxe.ExpectColumnValuesToNotBeNull(column="lead_id", description="lead_id filled in"))
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
        add(gxe.ExpectColumnValuesToNotBeNull(column=column, description=f"{column} filled in"))
        add(gxe.ExpectColumnValuesToBeInSet(
            column=column, value_set=values, description=f"one of {seed}",
            meta={"unexpected_label": "unknown values"}))
    if rows > MIN_ROWS_FOR_STDEV:
        add(gxe.ExpectColumnStdevToBeBetween(
            column="lead_score", min_value=0, strict_min=True,
            description=f"not all leads scored the same (stdev > 0 on > {MIN_ROWS_FOR_STDEV} leads)"))
    if rows > MIN_ROWS_FOR_GRADE_SHARE:
        for grade in vocabularies["fit_grade"][0]:
            # "at least (1 - max) of the leads are not grade X" == "share of X <= max"
            add(gxe.ExpectColumnValuesToNotBeInSet(
                column="fit_grade", value_set=[grade], mostly=max(0.0, 1.0 - max_grade_share),
                description=(
                    f"grade {grade} holds at most {max_grade_share:.0%} of the leads "
                    "(LEADSCORE_MAX_GRADE_SHARE)"
                ),
                meta={"unexpected_label": f"grade {grade}"}))
    return suite


def validate_mart(settings: Settings, batch: MartBatch | None = None) -> tuple[SuiteReport, Path]:
    """Validate the mart; returns the report and the Data Docs index page."""
    batch = batch or read_mart(settings)
    validator = GxValidator(settings.gx_docs_dir / "mart", index_columns=["lead_id"])
    suite = build_suite(len(batch.frame), batch.known_leads, settings.max_grade_share)
    grades = batch.frame["fit_grade"].value_counts(normalize=True).sort_index()
    notes = []
    if len(grades):
        notes.append("fit grades: " + ", ".join(f"{g} {share:.0%}" for g, share in grades.items()))
    report = validator.validate(
        batch.frame,
        suite,
        batch_name=MART,
        notes=notes,
        extra={"known_leads": batch.known_leads},
    )
    return report, validator.build_docs()
