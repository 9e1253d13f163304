"""The purchase-probability model: LightGBM, Platt-calibrated on a later fold, with a
rule-score fallback.

Why LightGBM (not scikit-learn's HistGradientBoosting): it trains the few hundred thousand
rows of a medium shop's snapshots in seconds on 2 cores; it takes categorical features
(country, channel, top category, RFM segment) and missing values (no order yet, no
profile) natively, so the features of ``int_lead_features`` go in as they are; it is
deterministic when asked (``deterministic``, ``force_row_wise``, a seed, a fixed thread
count); and ``pred_contrib`` gives exact per-lead contributions (TreeSHAP) from the model
itself, which become the readable reasons beside each probability.

Why Platt scaling (not isotonic): the calibration fold is one or two snapshots, often a
few hundred positives; isotonic regression needs thousands, overfits steps and creates
ties that blur the top decile, while Platt's two parameters are monotone (the ranking and
AUC stay the model's) and correct what really drifts between the training snapshots and
the later fold: the base rate (the shop grows, the history gets longer). The metrics are
cross-fitted: the calibrator applied to each half of the fold (split by lead) is fitted on
the other half, so the reported calibration is not measured on its own fitting data.

Fallback (``rules_calibrated``): when the training set has fewer positives or negatives
than the vars ask, when a fold lacks one class, or when the model's validation AUC does
not beat the rule score's, the probability is the observed conversion of the lead's
``lead_score`` band over the same snapshots (shrunk towards the overall rate for thin
bands). The reason is kept with the model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss

from orchestration.backtest import auc
from orchestration.predictive.training_set import META_COLUMNS, TrainingConfig

MODEL = "model"
RULES = "rules_calibrated"
#: Probabilities are kept off 0 and 1 so that log loss stays finite.
EPSILON = 1e-6


def feature_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(every feature, the categorical ones): all columns but the meta columns; text is
    categorical."""
    features = [c for c in frame.columns if c not in META_COLUMNS]
    categorical = [c for c in features
                   if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]
    return features, categorical


def design_matrix(frame: pd.DataFrame, features: list[str],
                  categories: dict[str, list[str]]) -> pd.DataFrame:
    """The model's input: numbers as floats (booleans 0/1, missing NaN), categoricals
    with the categories fixed at training (an unseen value is missing)."""
    matrix = pd.DataFrame(index=frame.index)
    for column in features:
        values = frame[column] if column in frame.columns else pd.Series(np.nan, index=frame.index)
        if column in categories:
            known = values.astype(object).isin(categories[column])
            matrix[column] = pd.Categorical(values.astype(object).where(known, None),
                                            categories=categories[column])
        else:
            matrix[column] = pd.to_numeric(values.astype(object), errors="coerce").astype(float)
    return matrix


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def fit_platt(margin: np.ndarray, label: np.ndarray) -> tuple[float, float]:
    """(a, b) of p = sigmoid(a * margin + b) by maximum likelihood (Platt's targets
    smoothing, so a perfectly separated fold keeps finite parameters)."""
    positives = float(label.sum())
    negatives = float(len(label) - positives)
    target = np.where(label == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        p = np.clip(_sigmoid(params[0] * margin + params[1]), EPSILON, 1 - EPSILON)
        value = -np.sum(target * np.log(p) + (1 - target) * np.log(1 - p))
        residual = p - target
        return float(value), np.array([np.sum(residual * margin), np.sum(residual)])

    result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])


def fit_bands(score: pd.Series, label: pd.Series, config: TrainingConfig) -> list[float]:
    """Observed conversion per lead_score band, shrunk towards the overall rate."""
    width = config.rules_calibration_band_points
    count = -(-100 // width)
    bands = score_band(score, width, count)
    overall = float(label.mean()) if len(label) else 0.0
    prior = config.rules_calibration_prior_leads
    grouped = pd.DataFrame({"band": bands, "label": label}).groupby("band")["label"]
    sums, sizes = grouped.sum(), grouped.size()
    return [float((sums.get(b, 0) + prior * overall) / (sizes.get(b, 0) + prior))
            if sizes.get(b, 0) + prior > 0 else overall for b in range(count)]


def score_band(score: pd.Series, width: int, count: int) -> np.ndarray:
    """The band of each score: 0 for [0, width), ..., the last band holds 100."""
    values = pd.to_numeric(score, errors="coerce").fillna(0).to_numpy(dtype=float)
    return np.clip((values // width).astype(int), 0, count - 1)


def metrics(probability: np.ndarray, label: np.ndarray, ranking: np.ndarray | None = None,
            ) -> dict[str, Any]:
    """AUC, PR-AUC, log loss, Brier, top-decile lift and calibration per decile.

    ``ranking`` orders leads for AUC, PR-AUC and lift when it is not the probability
    itself (the rule score: its bands tie many leads that the score still tells apart).
    """
    ranking = probability if ranking is None else ranking
    label = label.astype(int)
    p = np.clip(probability, EPSILON, 1 - EPSILON)
    n = len(label)
    rate = float(label.mean())
    order = pd.Series(ranking).rank(method="first", ascending=False).to_numpy()
    top = label[order <= max(1, n // 10)]
    by_probability = pd.Series(probability).rank(method="first").to_numpy()
    decile = np.minimum(((by_probability - 1) * 10 // n).astype(int), 9)
    table = (pd.DataFrame({"decile": decile + 1, "predicted": probability, "observed": label})
             .groupby("decile").agg(rows=("observed", "size"), predicted=("predicted", "mean"),
                                    observed=("observed", "mean")).reset_index())
    return {
        "rows": n,
        "positives": int(label.sum()),
        "observed_rate": rate,
        "mean_probability": float(np.mean(probability)),
        "auc": float(auc(pd.Series(ranking), pd.Series(label))),
        "pr_auc": float(average_precision_score(label, ranking)),
        "log_loss": float(log_loss(label, p, labels=[0, 1])),
        "brier": float(brier_score_loss(label, probability)),
        "top_decile_lift": float(top.mean() / rate) if rate > 0 else float("nan"),
        "calibration_error": float((table["predicted"] - table["observed"]).abs().mean()),
        "calibration_deciles": [{k: float(v) for k, v in row.items()}
                                for row in table.to_dict("records")],
    }


def _halves(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """A stable split of leads in two (the same lead always in the same half)."""
    return np.array([int(hashlib.md5(f"{lead}/{seed}".encode()).hexdigest(), 16) % 2
                     for lead in frame["lead_id"]])


@dataclass
class PropensityModel:
    """A trained (or fallen back) propensity model and its evidence."""

    method: str
    reason: str
    features: list[str]
    categories: dict[str, list[str]]
    params: dict[str, Any]
    bands: list[float]
    band_points: int
    platt: tuple[float, float] | None = None
    booster: lgb.Booster | None = None
    evaluation: dict[str, Any] = field(default_factory=dict)

    def margin(self, frame: pd.DataFrame) -> np.ndarray:
        assert self.booster is not None
        return self.booster.predict(design_matrix(frame, self.features, self.categories),
                                    raw_score=True, num_threads=self.params.get("num_threads", 1))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The calibrated purchase probability of each row of ``frame``."""
        if self.method == MODEL and self.platt is not None:
            a, b = self.platt
            return _sigmoid(a * self.margin(frame) + b)
        return np.asarray(self.bands)[score_band(frame["lead_score"], self.band_points,
                                                 len(self.bands))]

    def calibration_document(self) -> dict[str, Any]:
        """Everything but the booster, as JSON-able data (the artefact beside model.txt)."""
        return {
            "method": self.method,
            "reason": self.reason,
            "features": self.features,
            "categories": self.categories,
            "params": self.params,
            "platt": list(self.platt) if self.platt else None,
            "rules_calibration": {"band_points": self.band_points, "rates": self.bands},
        }

    @classmethod
    def from_documents(cls, calibration: dict[str, Any], model_text: str | None) -> PropensityModel:
        return cls(
            method=calibration["method"],
            reason=calibration["reason"],
            features=calibration["features"],
            categories=calibration["categories"],
            params=calibration["params"],
            bands=calibration["rules_calibration"]["rates"],
            band_points=calibration["rules_calibration"]["band_points"],
            platt=tuple(calibration["platt"]) if calibration["platt"] else None,
            booster=lgb.Booster(model_str=model_text) if model_text else None,
        )


def lightgbm_params(config: TrainingConfig) -> tuple[dict[str, Any], int]:
    """LightGBM's parameters (the var's, made deterministic) and the number of rounds."""
    params = dict(config.training_lightgbm_params)
    rounds = int(params.pop("num_boost_round", 200))
    params.update(objective="binary", verbosity=-1, seed=config.training_seed,
                  deterministic=True, force_row_wise=True,
                  num_threads=config.training_num_threads)
    return params, rounds


def fit(frame: pd.DataFrame, config: TrainingConfig) -> PropensityModel:
    """Train on the ``train`` fold, calibrate and judge on the ``validation`` fold; fall
    back to ``rules_calibrated`` when the data or the model does not earn trust."""
    features, categorical = feature_columns(frame)
    train = frame[frame["fold"] == "train"]
    validation = frame[frame["fold"] == "validation"]
    params, rounds = lightgbm_params(config)
    params_record = {**params, "num_boost_round": rounds}
    categories = {c: sorted(str(v) for v in frame[c].dropna().unique()) for c in categorical}

    def fallback(reason: str, evaluation: dict[str, Any]) -> PropensityModel:
        # Calibrated on the latest behaviour, as the model is: the validation fold when it
        # has both outcomes (a shop's conversion drifts: measured on an orders-only shop,
        # bands over every snapshot predicted 34% against an observed 25%), else every row.
        latest = validation if validation["label"].nunique() == 2 else frame
        return PropensityModel(RULES, reason, features, categories, params_record,
                               fit_bands(latest.get("lead_score", pd.Series(dtype=float)),
                                         latest["label"], config),
                               config.rules_calibration_band_points, evaluation=evaluation)

    positives = int(frame["label"].sum())
    negatives = len(frame) - positives
    if positives < config.training_min_positives or negatives < config.training_min_negatives:
        return fallback(
            f"too little history to train: {positives} positive and {negatives} negative "
            f"snapshot rows, the vars ask at least {config.training_min_positives} "
            f"(training_min_positives) and {config.training_min_negatives} "
            "(training_min_negatives)", {})
    for name, fold in (("training", train), ("validation", validation)):
        if fold.empty:
            return fallback(f"the {name} fold is empty (its snapshots were left out: see "
                            "training_min_history_days), so no model can be trained or "
                            "judged", {})
        if fold["label"].nunique() < 2:
            return fallback(f"the {name} fold has only one outcome, so no model can be "
                            "trained or judged on it", {})

    rule_bands = fit_bands(train["lead_score"], train["label"], config)
    rule_probability = np.asarray(rule_bands)[score_band(
        validation["lead_score"], config.rules_calibration_band_points, len(rule_bands))]
    y_val = validation["label"].to_numpy()
    rule_metrics = metrics(rule_probability, y_val, validation["lead_score"].to_numpy(dtype=float))

    dataset = lgb.Dataset(design_matrix(train, features, categories), train["label"].to_numpy(),
                          categorical_feature=categorical or "auto", free_raw_data=False)
    booster = lgb.train(params, dataset, num_boost_round=rounds)
    model = PropensityModel(MODEL, "", features, categories, params_record,
                            fit_bands(frame["lead_score"], frame["label"], config),
                            config.rules_calibration_band_points, booster=booster)
    margin = model.margin(validation)
    half = _halves(validation, config.training_seed)
    cross_fitted = np.empty(len(validation))
    for side in (0, 1):
        a, b = fit_platt(margin[half != side], y_val[half != side])
        cross_fitted[half == side] = _sigmoid(a * margin[half == side] + b)
    model.platt = fit_platt(margin, y_val)
    model_metrics = metrics(cross_fitted, y_val)
    model.evaluation = {"model": model_metrics, "rule_score": rule_metrics}
    gain = model_metrics["auc"] - rule_metrics["auc"]
    if not gain > config.training_min_auc_gain:
        fallen = fallback(
            f"the model's validation AUC {model_metrics['auc']:.3f} does not beat the rule "
            f"score's {rule_metrics['auc']:.3f} by more than {config.training_min_auc_gain} "
            "(training_min_auc_gain)", model.evaluation)
        return fallen
    model.reason = (f"validation AUC {model_metrics['auc']:.3f} against the rule score's "
                    f"{rule_metrics['auc']:.3f}")
    return model


def document_hash(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
