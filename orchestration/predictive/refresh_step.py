"""The predictive step of every refresh: ``predictive.lead_predictions`` at the run's as_of.

It runs between the two dbt steps of the refresh job: after ``int_lead_features`` was built
at as_of, before ``int_lead_predictions`` and the marts read the table.

1. The purchase probability of every lead: the latest registered model trained at or before
   as_of (:mod:`orchestration.predictive.scoring`). With none, the step trains one first
   when ``train_if_missing`` (LEADSCORE_TRAIN_IF_MISSING, default on: ``make run`` on a
   fresh clone shows probabilities) and says so; else the probability stays empty and
   ``propensity_method`` says ``unavailable``.
2. For leads with purchases: expected orders and expected value (EUR) in the next
   ``prediction_horizon_days`` from a BG/NBD + Gamma-Gamma fit on the orders known at as_of
   (:mod:`orchestration.predictive.clv`; its own small-data fallbacks).

The table's columns are fixed here (:data:`COLUMNS`); the loader creates it empty, so a
dbt build without this step (``make dbt-test``) reads an empty table and the mart says
``unavailable``.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from orchestration import pipeline
from orchestration.config import Settings

log = logging.getLogger(__name__)

SCHEMA = "predictive"
TABLE = f"{SCHEMA}.lead_predictions"
UNAVAILABLE = "unavailable"
#: The dbt model that reads the table: it and everything downstream run after this step.
PREDICTIONS_MODEL = "int_lead_predictions"

#: predictive.lead_predictions: column -> DuckDB type.
COLUMNS: dict[str, str] = {
    "lead_id": "varchar",
    "as_of": "timestamp",
    "purchase_probability": "double",
    "propensity_score": "integer",
    "propensity_method": "varchar",
    "propensity_reasons": "varchar",
    "model_version": "varchar",
    "expected_orders": "double",
    "expected_value_eur": "double",
    "customer_value_method": "varchar",
}


def ensure_table(con: Any) -> None:
    """Create the (empty) predictions table unless it exists (the loader calls this)."""
    con.execute(f"create schema if not exists {SCHEMA}")
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    con.execute(f"create table if not exists {TABLE} ({columns})")


def write(settings: Settings, frame: pd.DataFrame) -> None:
    """Replace the table's rows with ``frame`` (columns it lacks are left empty)."""
    frame = frame.reindex(columns=list(COLUMNS))
    with pipeline.refresh_lock(settings, wait=True, reentrant=True), \
            contextlib.closing(pipeline.connect(settings)) as con:
        ensure_table(con)
        con.register("predictions_frame", frame)
        con.execute("begin transaction")
        con.execute(f"delete from {TABLE}")
        con.execute(f"insert into {TABLE} by name select * from predictions_frame")
        con.execute("commit")


@dataclass
class StepResult:
    leads: int
    method: str
    model_version: str | None
    notes: list[str] = field(default_factory=list)
    mean_probability: float | None = None
    customer_value_method: str | None = None

    def describe(self) -> str:
        mean = (f", mean purchase probability {self.mean_probability:.3f}"
                if self.mean_probability is not None else "")
        return (f"{self.leads:,} leads, propensity method {self.method}"
                + (f" (model {self.model_version})" if self.model_version else "") + mean)


def _customer_value(settings: Settings, as_of: str, config: Any
                    ) -> tuple[pd.DataFrame, dict[str, Any]]:
    from orchestration.predictive import clv

    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        orders = con.execute(
            "select lead_id, ordered_at, amount_eur from intermediate.int_orders_as_of "
            "where counts_as_purchase and lead_id is not null").df()
    result = clv.fit_and_predict(
        orders, pd.Timestamp(as_of), config.prediction_horizon_days,
        min_customers=config.customer_value_min_repeat_customers,
        fallback_prior_days=config.customer_value_prior_days)
    frame = result.predictions[["lead_id", "expected_orders", "expected_value_eur"]].copy()
    method = result.report.get("method", "")
    frame["customer_value_method"] = f"{method}+{result.report.get('value_method', '')}"
    return frame, result.report


def run(settings: Settings, as_of: str, train_if_missing: bool = True) -> StepResult:
    """Score every lead of int_lead_features at ``as_of`` and replace the table."""
    from orchestration.predictive import scoring
    from orchestration.predictive.training_set import TrainingConfig

    config = TrainingConfig.from_project()
    notes: list[str] = []
    try:
        scored = scoring.score(settings, config, as_of=as_of, write=False)
    except scoring.NoModel as exc:
        if not train_if_missing:
            scored = None
            notes.append(f"{exc}; the purchase probability is unavailable "
                         "(LEADSCORE_TRAIN_IF_MISSING is off)")
        else:
            from orchestration.predictive.registry import train

            from orchestration.predictive.registry import NoHistory

            notes.append(f"{exc}: training one first (LEADSCORE_TRAIN_IF_MISSING)")
            log.warning(notes[-1])
            try:
                report = train(settings, as_of, config)
            except NoHistory as no_history:
                scored = None
                notes.append(f"{no_history}; the purchase probability is unavailable")
                log.warning(notes[-1])
            else:
                notes.append(f"trained {report.version}: {report.model.method} "
                             f"({report.model.reason})")
                scored = scoring.score(settings, config, as_of=as_of, write=False)
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        leads = con.execute("select lead_id from intermediate.int_lead_features").df()
    if scored is not None:
        frame = scored.predictions.drop(columns=["as_of"])
        if scored.note:
            notes.append(scored.note)
    else:
        frame = leads.assign(purchase_probability=None, propensity_score=None,
                             propensity_method=UNAVAILABLE, propensity_reasons=None,
                             model_version=None)
    value, value_report = _customer_value(settings, as_of, config)
    notes.append(f"customer value: {value_report.get('method')} / "
                 f"{value_report.get('value_method')} ({value_report.get('reason', '')})")
    frame = frame.merge(value, on="lead_id", how="left")
    frame["as_of"] = pd.Timestamp(as_of)
    write(settings, frame)
    probability = pd.to_numeric(frame["purchase_probability"], errors="coerce")
    return StepResult(
        leads=len(frame),
        method=scored.method if scored is not None else UNAVAILABLE,
        model_version=scored.version if scored is not None else None,
        notes=notes,
        mean_probability=float(probability.mean()) if probability.notna().any() else None,
        customer_value_method=str(value["customer_value_method"].iloc[0]) if len(value) else None,
    )
