"""Score the current leads with the registered model: ``predictive.lead_predictions``.

One row per lead of ``intermediate.int_lead_features`` (built by the refresh at its
as_of): ``purchase_probability`` (calibrated, 0-1), ``propensity_score`` (0-100),
``propensity_method`` (``model`` / ``rules_calibrated``), ``propensity_reasons`` and
``model_version``. The public mart ``marts.lead_scores`` is not touched (yet).

Reasons come from the model itself: LightGBM's ``pred_contrib`` splits each lead's
log-odds into one contribution per feature (TreeSHAP, exact for the trees). A contribution
c moves the calibrated probability p by about ``a * c * p * (1 - p)`` (a: the Platt slope;
the first-order change of the sigmoid), which is the signed number shown, e.g.
"3 sessions in the last 7 days (+0.08)". The features with the largest |c| are named,
read through ``seeds/rules/feature_labels.csv``. A ``rules_calibrated`` probability is
explained by its band: the rule score and the conversion observed in that band.

The latest registered model is used (latest as_of, then latest training). A model trained
on features that ``int_lead_features`` no longer has is not used: its rule-score bands are,
and ``propensity_method`` says ``rules_calibrated``.
"""

from __future__ import annotations

import contextlib
import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from orchestration import pipeline
from orchestration.config import PROJECT_ROOT, Settings
from orchestration.predictive.model import MODEL, RULES, PropensityModel, design_matrix, score_band
from orchestration.predictive.registry import SCHEMA, load_model
from orchestration.predictive.training_set import TrainingConfig

log = logging.getLogger(__name__)

FEATURE_LABELS = PROJECT_ROOT / "seeds" / "rules" / "feature_labels.csv"


@dataclass
class ScoringResult:
    version: str
    method: str
    note: str
    predictions: pd.DataFrame


def feature_labels(path: Path = FEATURE_LABELS) -> dict[str, tuple[str, str]]:
    """feature -> (label with {value}, label when missing) from the seed."""
    with path.open(newline="") as handle:
        return {row["feature"]: (row["label"], row["missing_label"] or "")
                for row in csv.DictReader(handle)}


def _readable(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2g}"
    return str(value)


def reason_text(feature: str, value: object, change: float,
                labels: dict[str, tuple[str, str]]) -> str | None:
    """One reason, e.g. "3 sessions in the last 7 days (+0.08)"; None when unnamed."""
    label, missing = labels.get(feature, (feature.replace("_", " ") + ": {value}", ""))
    if isinstance(value, (bool, np.bool_)) and "{value:" in label:
        value = int(value)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        if not missing:
            return None
        text = missing
    else:
        # a label with a format spec ({value:.0%}) takes the number, others readable text
        text = label.format(value=float(value) if "{value:" in label else _readable(value))
    return f"{text} ({change:+.2f})"


def model_reasons(model: PropensityModel, frame: pd.DataFrame, probability: np.ndarray,
                  top_n: int, labels: dict[str, tuple[str, str]]) -> list[str]:
    """The top_n features by |contribution| per lead, as readable text."""
    assert model.booster is not None and model.platt is not None
    matrix = design_matrix(frame, model.features, model.categories)
    contributions = model.booster.predict(matrix, pred_contrib=True,
                                          num_threads=model.params.get("num_threads", 1))
    contributions = np.asarray(contributions)[:, :-1]  # the last column is the bias
    slope = model.platt[0] * probability * (1 - probability)
    reasons = []
    for row in range(len(frame)):
        order = np.argsort(-np.abs(contributions[row]), kind="stable")
        texts: list[str] = []
        for index in order:
            if len(texts) == top_n or contributions[row, index] == 0:
                break
            feature = model.features[index]
            text = reason_text(feature, frame[feature].iloc[row],
                               float(slope[row] * contributions[row, index]), labels)
            if text is not None:
                texts.append(text)
        reasons.append("; ".join(texts) or "No signal moved this lead's probability")
    return reasons


def band_reasons(model: PropensityModel, lead_score: pd.Series) -> list[str]:
    width = model.band_points
    bands = score_band(lead_score, width, len(model.bands))
    return [f"Rule score {int(score)}: {model.bands[band]:.1%} of leads scored "
            f"{band * width}-{min(band * width + width - 1, 100)} bought within the horizon"
            for score, band in zip(lead_score.fillna(0), bands)]


class NoModel(FileNotFoundError):
    """No registered model may score at this as_of."""


def latest_version(con, as_of: object = None) -> tuple[str, Path]:
    """The latest registered model; with ``as_of``, the latest trained at or before it
    (a model trained later knows outcomes after as_of: it would leak into the scores)."""
    if not pipeline._table_exists(con, SCHEMA, "model_registry"):
        row = None
    else:
        row = con.execute(
            f"select version, calibration_path from {SCHEMA}.model_registry "
            "where ? is null or as_of <= cast(? as timestamp) "
            "order by as_of desc, trained_at desc limit 1", [as_of, as_of]).fetchone()
    if row is None:
        raise NoModel("no trained model is registered"
                      + (f" at or before as_of {as_of}" if as_of else "")
                      + ": run `leadscore train` first")
    return row[0], Path(row[1]).parent


def score(settings: Settings, config: TrainingConfig | None = None, *, as_of: object = None,
          write: bool = True) -> ScoringResult:
    """Predict every lead of int_lead_features and (``write``) replace
    predictive.lead_predictions; ``as_of``: use only models trained at or before it."""
    config = config or TrainingConfig.from_project()
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        version, folder = latest_version(con, as_of)
        frame = con.execute("select * from intermediate.int_lead_features order by lead_id").df()
    model = load_model(folder)
    note = model.reason
    missing = [f for f in model.features if f not in frame.columns]
    if model.method == MODEL and missing:
        note = (f"model {version} was trained on features int_lead_features no longer has "
                f"({', '.join(missing)}): its rule-score bands are used; run `leadscore train`")
        log.warning(note)
        model.method = RULES
    probability = model.predict(frame)
    if model.method == MODEL:
        reasons = model_reasons(model, frame, probability, config.propensity_reasons_top_n,
                                feature_labels())
    else:
        reasons = band_reasons(model, frame["lead_score"])
    predictions = pd.DataFrame({
        "lead_id": frame["lead_id"],
        "as_of": frame["as_of"],
        "purchase_probability": probability.astype(float),
        "propensity_score": np.rint(probability * 100).astype(int),
        "propensity_method": model.method,
        "propensity_reasons": reasons,
        "model_version": version,
    })
    if write:
        from orchestration.predictive.refresh_step import write as write_predictions

        write_predictions(settings, predictions)
    return ScoringResult(version, model.method, note, predictions)
