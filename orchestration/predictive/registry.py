"""Train, keep the evidence, register: ``leadscore train``.

Every training writes
- the artefacts under the warehouse folder, ``models/<version>/``: ``model.txt`` (the
  LightGBM booster; absent for ``rules_calibrated``) and ``calibration.json`` (method,
  reason, features, categories, hyper-parameters, Platt parameters, rule-score bands);
- a row of ``predictive.model_registry`` (version, trained_at, as_of, training window,
  snapshot dates, features, hyper-parameters, artefact paths and SHA-256, method, metrics);
- the validation metrics of the model and of the rule score on the same fold in
  ``predictive.model_evaluations`` (one row per scorer).

The version is the as_of and the hash of the artefacts: the same data, as_of and seed give
the same version (a re-training replaces its rows), another model gives another one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from orchestration import pipeline
from orchestration.backtest import _scored_until
from orchestration.config import Settings
from orchestration.predictive.model import MODEL, PropensityModel, fit
from orchestration.predictive.training_set import TrainingConfig, TrainingSet, build_training_set

SCHEMA = "predictive"

_DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.model_registry (
    version varchar primary key,
    trained_at timestamp,
    as_of timestamp,
    method varchar,
    method_reason varchar,
    horizon_days integer,
    training_window_start timestamp,
    training_window_end timestamp,
    train_snapshots varchar,
    validation_snapshots varchar,
    training_rows bigint,
    training_positives bigint,
    features varchar,
    hyper_parameters varchar,
    artefact_path varchar,
    artefact_sha256 varchar,
    calibration_path varchar,
    calibration_sha256 varchar,
    seconds_per_snapshot double,
    metrics varchar
);
create table if not exists {SCHEMA}.model_evaluations (
    version varchar,
    as_of timestamp,
    fold varchar,
    scorer varchar,
    rows_evaluated bigint,
    positives bigint,
    observed_rate double,
    mean_probability double,
    auc double,
    pr_auc double,
    log_loss double,
    brier double,
    top_decile_lift double,
    calibration_error double,
    calibration_deciles varchar
);
"""


@dataclass
class TrainingReport:
    version: str
    model: PropensityModel
    training_set: TrainingSet
    model_dir: Path

    def format(self) -> str:
        ts = self.training_set
        seconds = ts.seconds_per_snapshot
        lines = [
            f"Trained {self.version} at as_of {ts.as_of:%Y-%m-%d %H:%M:%S}: method "
            f"{self.model.method} ({self.model.reason})",
            f"  snapshots: train {', '.join(f'{d:%Y-%m-%d}' for d in ts.snapshots['train'])}; "
            f"validation {', '.join(f'{d:%Y-%m-%d}' for d in ts.snapshots['validation'])}",
            f"  rows {len(ts.frame):,}, positives {ts.positives:,}, negatives {ts.negatives:,}; "
            f"{sum(seconds) / max(len(seconds), 1):.1f} s per snapshot",
            f"  artefacts: {self.model_dir}",
        ]
        if ts.sampled_leads:
            lines.append(f"  a sample of {ts.sampled_leads:,} leads in every snapshot "
                         "(training_max_leads_per_snapshot)")
        if ts.empty_snapshots:
            lines.append("  no lead known yet at " + ", ".join(
                f"{d:%Y-%m-%d}" for d in ts.empty_snapshots) + " (left out)")
        if ts.early_snapshots:
            begins = (f"the shop's data begins {ts.data_starts_at:%Y-%m-%d}"
                      if ts.data_starts_at else "the shop has no events or orders yet")
            lines.append("  too early, " + begins + " (training_min_history_days): "
                         + ", ".join(f"{d:%Y-%m-%d}" for d in ts.early_snapshots)
                         + " (left out)")
        for scorer, m in self.model.evaluation.items():
            lines.append(
                f"  {scorer:<10} AUC {m['auc']:.3f}  PR-AUC {m['pr_auc']:.3f}  log loss "
                f"{m['log_loss']:.4f}  Brier {m['brier']:.4f}  top-decile lift "
                f"{m['top_decile_lift']:.2f}  calibration error {m['calibration_error']:.4f}")
        return "\n".join(lines)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def models_dir(settings: Settings) -> Path:
    """Where the artefacts live: models/ beside the warehouse file."""
    return settings.duckdb_path.parent / "models"


def training_as_of(settings: Settings, as_of: str | None) -> dt.datetime:
    """The as_of asked for, else that of the warehouse's latest refresh."""
    normalised = pipeline.normalise_as_of(as_of)
    if normalised is not None:
        return dt.datetime.fromisoformat(normalised)
    if not settings.duckdb_path.exists():
        raise FileNotFoundError(f"no warehouse at {settings.duckdb_path}: run `leadscore run` first")
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        latest = _scored_until(con)
    if latest is None:
        raise ValueError(f"the warehouse {settings.duckdb_path} was never scored: run "
                         "`leadscore run` first, or pass --as-of")
    return latest


def write_artefacts(model: PropensityModel, as_of: dt.datetime, root: Path) -> tuple[str, Path]:
    """model.txt and calibration.json in ``root/<version>``; the version and the folder."""
    calibration = json.dumps(model.calibration_document(), indent=2, sort_keys=True)
    model_text = model.booster.model_to_string() if model.booster is not None else ""
    digest = hashlib.sha256((model_text + calibration).encode()).hexdigest()
    version = f"{as_of:%Y%m%dT%H%M%S}-{digest[:12]}"
    folder = root / version
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "calibration.json").write_text(calibration)
    if model.booster is not None:
        (folder / "model.txt").write_text(model_text)
    return version, folder


def load_model(folder: Path) -> PropensityModel:
    """A registered model from its artefact folder."""
    model_file = folder / "model.txt"
    return PropensityModel.from_documents(
        json.loads((folder / "calibration.json").read_text()),
        model_file.read_text() if model_file.exists() else None)


def _registry_row(version: str, report_set: TrainingSet, model: PropensityModel,
                  folder: Path, config: TrainingConfig) -> dict[str, Any]:
    snapshots = report_set.snapshots
    model_file = folder / "model.txt"
    calibration_file = folder / "calibration.json"
    seconds = report_set.seconds_per_snapshot
    return {
        "version": version,
        "trained_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
        "as_of": report_set.as_of,
        "method": model.method,
        "method_reason": model.reason,
        "horizon_days": config.prediction_horizon_days,
        # the snapshots used (the training fold may be empty: the rules fallback)
        "training_window_start": min(snapshots["train"] + snapshots["validation"], default=None),
        "training_window_end": max((d + dt.timedelta(days=config.prediction_horizon_days)
                                    for d in snapshots["train"] + snapshots["validation"]),
                                   default=None),
        "train_snapshots": json.dumps([f"{d:%Y-%m-%d %H:%M:%S}" for d in snapshots["train"]]),
        "validation_snapshots": json.dumps(
            [f"{d:%Y-%m-%d %H:%M:%S}" for d in snapshots["validation"]]),
        "training_rows": len(report_set.frame),
        "training_positives": report_set.positives,
        "features": json.dumps(model.features),
        "hyper_parameters": json.dumps(model.params, sort_keys=True),
        "artefact_path": str(model_file) if model.method == MODEL else None,
        "artefact_sha256": _sha256(model_file) if model.method == MODEL else None,
        "calibration_path": str(calibration_file),
        "calibration_sha256": _sha256(calibration_file),
        "seconds_per_snapshot": sum(seconds) / max(len(seconds), 1),
        "metrics": json.dumps({k: {m: v for m, v in values.items() if m != "calibration_deciles"}
                               for k, values in model.evaluation.items()}),
    }


def register(settings: Settings, version: str, report_set: TrainingSet,
             model: PropensityModel, folder: Path, config: TrainingConfig) -> None:
    """Write (or replace) the version's rows in the registry tables, under the refresh lock."""
    registry = pd.DataFrame([_registry_row(version, report_set, model, folder, config)])
    evaluations = pd.DataFrame([
        {"version": version, "as_of": report_set.as_of, "fold": "validation", "scorer": scorer,
         "rows_evaluated": m["rows"], "positives": m["positives"],
         "observed_rate": m["observed_rate"], "mean_probability": m["mean_probability"],
         "auc": m["auc"], "pr_auc": m["pr_auc"], "log_loss": m["log_loss"], "brier": m["brier"],
         "top_decile_lift": m["top_decile_lift"], "calibration_error": m["calibration_error"],
         "calibration_deciles": json.dumps(m["calibration_deciles"])}
        for scorer, m in model.evaluation.items()
    ], columns=["version", "as_of", "fold", "scorer", "rows_evaluated", "positives",
                "observed_rate", "mean_probability", "auc", "pr_auc", "log_loss", "brier",
                "top_decile_lift", "calibration_error", "calibration_deciles"])
    with pipeline.refresh_lock(settings, wait=True, reentrant=True), \
            contextlib.closing(pipeline.connect(settings)) as con:
        con.execute(_DDL)
        con.register("registry_frame", registry)
        con.register("evaluations_frame", evaluations)
        con.execute("begin transaction")
        for table in ("model_registry", "model_evaluations"):
            con.execute(f"delete from {SCHEMA}.{table} where version = ?", [version])
        con.execute(f"insert into {SCHEMA}.model_registry by name select * from registry_frame")
        con.execute(f"insert into {SCHEMA}.model_evaluations by name "
                    "select * from evaluations_frame")
        con.execute("commit")


class NoHistory(ValueError):
    """No snapshot of the schedule has labelled history: nothing to train or calibrate on."""


def train(settings: Settings, as_of: str | None = None,
          config: TrainingConfig | None = None) -> TrainingReport:
    """Build the point-in-time training set, fit, write the artefacts and register them.

    Raises :class:`NoHistory` (nothing registered) when no snapshot has labelled rows: not
    even the rule score's observed conversion can be measured then.
    """
    config = config or TrainingConfig.from_project()
    as_of_ts = training_as_of(settings, as_of)
    training_set = build_training_set(settings, as_of_ts, config)
    if training_set.frame.empty:
        latest = max(training_set.snapshots_planned, default=None)
        begins = training_set.data_starts_at
        needed = (f"the shop's data begins {begins:%Y-%m-%d}, so the first as_of with one "
                  "labelled snapshot is "
                  f"{begins + dt.timedelta(days=config.training_min_history_days + config.prediction_horizon_days):%Y-%m-%d}"
                  if begins else "the shop has no staged events or orders")
        raise NoHistory(
            f"cannot train at as_of {as_of_ts:%Y-%m-%d %H:%M:%S}: no snapshot has labelled "
            f"history: {needed} (a snapshot must lie prediction_horizon_days before as_of "
            "and training_min_history_days after the data begins; the latest would be "
            f"{latest:%Y-%m-%d})")
    model = fit(training_set.frame, config)
    version, folder = write_artefacts(model, as_of_ts, models_dir(settings))
    register(settings, version, training_set, model, folder, config)
    return TrainingReport(version, model, training_set, folder)
