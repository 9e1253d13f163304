"""The predictive score's training: point in time, deterministic, calibrated, with a
fallback that says why.

Shops: one generated shop of 60 days (data through 2026-10-31) built in full, the same
shop cut at X = 2026-10-16 (only the files of the days before X: what existed at X), and
a tiny shop. Scoring reads the full shop's int_lead_features (built at 2026-11-01).
Training uses short horizons and few snapshots (vars overridden) so that each
training is four small dbt runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import duckdb

import numpy as np
import pandas as pd
import pytest

from orchestration.generator import generate
from orchestration.predictive.model import MODEL, RULES, fit
from orchestration.predictive.registry import NoHistory, load_model, train
from orchestration.predictive.scoring import score
from orchestration.predictive.training_set import TrainingConfig, build_training_set
from warehouse_helpers import GENERATED_AS_OF, GENERATED_END, build_warehouse, make_settings, query

DAYS = 60
X = dt.datetime(2026, 10, 16)
#: Small but real: a 14-day horizon, two weekly training snapshots and one validation.
CONFIG = TrainingConfig.from_project(
    prediction_horizon_days=14, training_snapshots=2, training_snapshot_interval_days=7,
    training_min_positives=5, training_min_negatives=5, training_min_auc_gain=-1.0)


@pytest.fixture(scope="module")
def full_and_cut(tmp_path_factory):
    """The shop with every day (later data present) and cut at X, each trained at X."""
    root = tmp_path_factory.mktemp("predictive")
    full, cut = make_settings(root / "full"), make_settings(root / "cut")
    first_day = GENERATED_END - dt.timedelta(days=DAYS - 1)
    generate(full.landing_dir, leads=800, days=DAYS, seed=31, end_date=GENERATED_END)
    generate(cut.landing_dir, leads=800, days=DAYS, seed=31, end_date=GENERATED_END,
             day_range=(0, (X.date() - first_day).days))
    build_warehouse(full, GENERATED_AS_OF)
    build_warehouse(cut, X.isoformat(sep=" "))
    return full, cut, train(full, X.isoformat(sep=" "), CONFIG)


def _probabilities(settings, report) -> pd.Series:
    """The registered model's probabilities on its training rows, read back from disk."""
    (path,) = query(settings, "select calibration_path from predictive.model_registry "
                              "where version = ?", [report.version])["calibration_path"]
    model = load_model(Path(path).parent)
    frame = report.training_set.frame
    return pd.Series(model.predict(frame), index=frame["snapshot_at"].astype(str) + "/"
                     + frame["lead_id"])


def test_later_data_changes_nothing(full_and_cut) -> None:
    full, cut, full_report = full_and_cut
    # the full shop does know orders after X (else this test would check nothing)
    later = query(full, "select count(*) as n from staging.stg_landing__orders "
                        "where ordered_at >= ?", [X])["n"].iloc[0]
    assert later > 0
    cut_report = train(cut, X.isoformat(sep=" "), CONFIG)
    pd.testing.assert_frame_equal(full_report.training_set.frame, cut_report.training_set.frame)
    assert full_report.model.method == cut_report.model.method == MODEL
    assert full_report.version == cut_report.version
    pd.testing.assert_series_equal(_probabilities(full, full_report),
                                   _probabilities(cut, cut_report))


def test_same_data_as_of_and_seed_give_the_same_probabilities(full_and_cut) -> None:
    full, _, first = full_and_cut
    again = train(full, X.isoformat(sep=" "), CONFIG)
    assert again.version == first.version
    pd.testing.assert_series_equal(_probabilities(full, first), _probabilities(full, again))
    # another seed is another model: the version says so
    other = fit(first.training_set.frame,
                TrainingConfig.from_project(**{**CONFIG.__dict__, "training_seed": 7}))
    assert not np.array_equal(other.predict(first.training_set.frame),
                              _probabilities(full, first).to_numpy())


def test_every_label_window_ends_by_the_as_of_and_folds_do_not_overlap(full_and_cut) -> None:
    _, _, report = full_and_cut
    horizon = dt.timedelta(days=CONFIG.prediction_horizon_days)
    frame = report.training_set.frame
    validation = frame.loc[frame["fold"] == "validation", "snapshot_at"]
    train_snapshots = frame.loc[frame["fold"] == "train", "snapshot_at"]
    assert (validation + horizon <= X).all()
    assert (train_snapshots + horizon <= validation.min()).all()
    # each snapshot's features are those of its own date
    assert (frame["as_of"] == frame["snapshot_at"]).all()


def test_probabilities_are_calibrated_on_the_later_fold(full_and_cut) -> None:
    full, _, report = full_and_cut
    evaluation = query(full, "select * from predictive.model_evaluations where version = ?",
                       [report.version]).set_index("scorer")
    assert set(evaluation.index) == {"model", "rule_score"}
    model = evaluation.loc["model"]
    # cross-fitted on the validation fold: the mean probability is the observed rate
    assert abs(model["mean_probability"] - model["observed_rate"]) <= 0.02
    assert model["calibration_error"] <= 0.05
    # the registered artefact gives calibrated probabilities on that fold
    frame = report.training_set.frame
    is_validation = (frame["fold"] == "validation").to_numpy()
    probabilities = _probabilities(full, report).to_numpy()[is_validation]
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert abs(probabilities.mean() - frame.loc[is_validation, "label"].mean()) <= 0.02
    registry = query(full, "select * from predictive.model_registry where version = ?",
                     [report.version]).iloc[0]
    assert registry["method"] == MODEL and len(registry["artefact_sha256"]) == 64


def test_a_model_that_does_not_beat_the_rule_score_is_not_used(full_and_cut) -> None:
    _, _, report = full_and_cut
    strict = TrainingConfig.from_project(**{**CONFIG.__dict__, "training_min_auc_gain": 0.5})
    model = fit(report.training_set.frame, strict)
    assert model.method == RULES
    assert "does not beat the rule score" in model.reason
    assert "training_min_auc_gain" in model.reason
    assert set(model.evaluation) == {"model", "rule_score"}


def test_snapshots_before_the_shops_data_has_run_are_left_out(full_and_cut) -> None:
    # The generated leads signed up long before the shop's 60 days of data (from
    # 2026-09-02): at a snapshot before it they would read "never visited, did not buy".
    full, _, _ = full_and_cut
    begins = dt.datetime.combine(GENERATED_END - dt.timedelta(days=DAYS - 1), dt.time())
    config = TrainingConfig.from_project(**{**CONFIG.__dict__, "training_min_history_days": 12})
    training_set = build_training_set(full, X, config)
    assert begins <= training_set.data_starts_at < begins + dt.timedelta(days=2)
    # schedule: validation 10-02, training 09-11 and 09-18; 09-11 is before 09-02 + 12 days
    assert training_set.early_snapshots == [dt.datetime(2026, 9, 11)]
    assert training_set.snapshots == {"train": [dt.datetime(2026, 9, 18)],
                                      "validation": [dt.datetime(2026, 10, 2)]}
    frame = training_set.frame
    assert set(frame["snapshot_at"]) == {dt.datetime(2026, 9, 18), dt.datetime(2026, 10, 2)}
    # with no usable snapshot nothing is trained or registered, and the error says when
    # training can start
    versions = query(full, "select count(*) as n from predictive.model_registry")["n"].iloc[0]
    late = TrainingConfig.from_project(**{**CONFIG.__dict__, "training_min_history_days": 45})
    with pytest.raises(NoHistory, match="first as_of with one labelled snapshot is 2026-10-31 "):
        train(full, X.isoformat(sep=" "), late)
    assert query(full, "select count(*) as n from predictive.model_registry")["n"].iloc[0] == versions
    with pytest.raises(ValueError, match="training_min_history_days"):
        TrainingConfig.from_project(training_min_history_days=-1)


def test_a_sampled_training_set_has_the_features_of_the_whole_warehouse(full_and_cut) -> None:
    # Above training_max_leads_per_snapshot the copy is cut down to a sample of leads
    # before the snapshots; a sampled lead's rows must equal the whole warehouse's.
    full, _, report = full_and_cut
    spine = query(full, "select count(*) as n from intermediate.int_lead_spine")["n"].iloc[0]
    assert spine > 250
    config = TrainingConfig.from_project(**{**CONFIG.__dict__,
                                            "training_max_leads_per_snapshot": 250})
    sampled = build_training_set(full, X, config)
    assert sampled.sampled_leads == 250
    frame = sampled.frame
    assert frame.groupby("snapshot_at")["lead_id"].nunique().max() <= 250
    assert frame["lead_id"].nunique() <= 250
    whole = report.training_set.frame
    assert whole["lead_id"].nunique() > 250  # the fixture's model trained on every lead
    keys = ["snapshot_at", "lead_id"]
    expected = whole.merge(frame[keys], on=keys).sort_values(keys).reset_index(drop=True)
    assert len(expected) == len(frame)
    pd.testing.assert_frame_equal(frame.sort_values(keys).reset_index(drop=True),
                                  expected[frame.columns], check_dtype=False)
    # the live warehouse still has every lead
    assert query(full, "select count(*) as n from intermediate.int_lead_spine")["n"].iloc[0] == spine


def test_the_fallback_is_calibrated_on_the_latest_fold() -> None:
    # conversion drifts from 50% in the training snapshots to 10% in the validation one:
    # the rule-score bands must predict today's rate, not the history's average
    rng = np.random.default_rng(7)
    rows = 600
    frame = pd.DataFrame({
        "snapshot_at": [dt.datetime(2026, 9, 1)] * rows + [dt.datetime(2026, 10, 1)] * rows,
        "lead_id": [f"l{i}" for i in range(rows)] * 2,
        "fold": ["train"] * rows + ["validation"] * rows,
        "lead_score": rng.integers(0, 101, 2 * rows),
        "sessions_short": rng.integers(0, 5, 2 * rows),
        "label": np.r_[rng.random(rows) < 0.5, rng.random(rows) < 0.1].astype(int),
    })
    frame["as_of"] = frame["snapshot_at"]
    config = TrainingConfig.from_project(training_min_positives=10**6)
    model = fit(frame, config)
    assert model.method == RULES and "too little history" in model.reason
    validation = frame[frame["fold"] == "validation"]
    predicted = model.predict(validation).mean()
    assert abs(predicted - validation["label"].mean()) < 0.01
    # with one outcome only in the validation fold, every row calibrates
    frame.loc[frame["fold"] == "validation", "label"] = 0
    assert abs(fit(frame, config).predict(frame).mean() - frame["label"].mean()) < 0.01


def test_a_tiny_shop_falls_back_to_the_calibrated_rule_score(tmp_path: Path) -> None:
    tiny = make_settings(tmp_path / "tiny")
    generate(tiny.landing_dir, leads=40, days=20, seed=3, end_date=GENERATED_END)
    build_warehouse(tiny, GENERATED_AS_OF)
    config = TrainingConfig.from_project(prediction_horizon_days=7, training_snapshots=1,
                                         training_snapshot_interval_days=3)
    report = train(tiny, None, config)  # the as_of of the warehouse's latest refresh
    assert report.training_set.as_of == dt.datetime.fromisoformat(GENERATED_AS_OF)
    assert report.model.method == RULES
    assert "too little history" in report.model.reason
    assert "training_min_positives" in report.model.reason
    registry = query(tiny, "select method, method_reason, artefact_path "
                           "from predictive.model_registry").iloc[0]
    assert registry["method"] == RULES and "too little history" in registry["method_reason"]
    assert registry["artefact_path"] is None
    model = load_model(report.model_dir)
    probabilities = model.predict(pd.DataFrame({"lead_score": [0, 35, 100]}))
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_train_command_documents_its_arguments() -> None:
    proc = subprocess.run([sys.executable, "-m", "orchestration.cli", "train", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "--as-of" in proc.stdout and "latest refresh" in proc.stdout
    assert "--warehouse" in proc.stdout


def test_current_leads_get_a_probability_a_score_and_reasons(full_and_cut) -> None:
    full, _, report = full_and_cut
    lead_scores = query(full, "select * from marts.lead_scores order by lead_id")
    result = score(full, CONFIG)
    predictions = query(full, "select * from predictive.lead_predictions order by lead_id")
    features = query(full, "select lead_id from intermediate.int_lead_features order by lead_id")
    assert predictions["lead_id"].tolist() == features["lead_id"].tolist()
    probability = predictions["purchase_probability"]
    assert probability.between(0, 1).all() and probability.nunique() > 10
    assert (predictions["propensity_score"] == (probability * 100).round()).all()
    assert set(predictions["propensity_method"]) == {MODEL}
    assert set(predictions["model_version"]) == {report.version} == {result.version}
    # readable reasons with signed probability changes, at most propensity_reasons_top_n
    reasons = predictions["propensity_reasons"]
    assert reasons.str.contains(r"\([+-]\d\.\d\d\)").all()
    assert (reasons.str.count("; ") < CONFIG.propensity_reasons_top_n).all()
    # labels, not column names (a value may hold an underscore: "Came through paid_search")
    columns = query(full, "select column_name from information_schema.columns where table_schema = "
                    "'intermediate' and table_name = 'int_lead_features' and column_name like '%\\_%' escape '\\'")
    named = [c for c in columns["column_name"] if reasons.str.contains(rf"\b{c}\b").any()]
    assert len(columns) > 5 and named == []
    # the public mart is not touched
    pd.testing.assert_frame_equal(
        lead_scores, query(full, "select * from marts.lead_scores order by lead_id"))


def test_a_model_of_another_feature_set_is_not_used(full_and_cut, tmp_path: Path) -> None:
    full, _, report = full_and_cut
    changed = dataclasses.replace(full, duckdb_path=tmp_path / "warehouse.duckdb")
    shutil.copy(full.duckdb_path, changed.duckdb_path)
    with closing(duckdb.connect(str(changed.duckdb_path))) as con:
        con.execute("alter table intermediate.int_lead_features drop column sessions_short")
    result = score(changed, CONFIG)
    assert result.method == RULES
    assert "sessions_short" in result.note and "leadscore train" in result.note
    predictions = query(changed, "select * from predictive.lead_predictions")
    assert set(predictions["propensity_method"]) == {RULES}
    assert predictions["propensity_reasons"].str.startswith("Rule score").all()
    with closing(duckdb.connect(str(changed.duckdb_path))) as con:
        con.execute("drop table predictive.model_registry")
    with pytest.raises(FileNotFoundError, match="run `leadscore train` first"):
        score(changed, CONFIG)


def test_the_refresh_step_puts_the_probability_in_the_mart_point_in_time(
        full_and_cut, tmp_path: Path) -> None:
    from orchestration import pipeline
    from orchestration.predictive import refresh_step

    full, _, report = full_and_cut
    copy = dataclasses.replace(full, duckdb_path=tmp_path / "warehouse.duckdb")
    shutil.copy(full.duckdb_path, copy.duckdb_path)
    # at the warehouse's as_of, the model trained at X (before it) scores every lead
    result = refresh_step.run(copy, GENERATED_AS_OF, train_if_missing=False)
    assert result.method == MODEL and result.model_version == report.version
    pipeline.run_dbt(copy, ["build", "--quiet", "--select", "int_lead_predictions+",
                            "--exclude-resource-type", "unit_test", "test"],
                     as_of=GENERATED_AS_OF, quiet=True)
    mart = query(copy, "select * from marts.lead_scores")
    assert mart["purchase_probability"].between(0, 1).all()
    assert set(mart["propensity_method"]) == {MODEL} and set(mart["model_version"]) == {
        report.version}
    assert (mart["propensity_score"] == (mart["purchase_probability"] * 100).round()).all()
    customers = mart[mart["completed_orders"] > 0]
    assert len(customers) and customers["expected_orders"].notna().all()
    assert (customers["expected_value_eur"] >= 0).all()
    history = query(copy, "select propensity_method, purchase_probability "
                          "from marts.lead_score_history where as_of = ?", [GENERATED_AS_OF])
    assert set(history["propensity_method"]) == {MODEL}
    assert history["purchase_probability"].notna().all()
    # before X the model would know what followed: it is not used, and the step says so
    early = (X - dt.timedelta(days=1)).isoformat(sep=" ")
    result = refresh_step.run(copy, early, train_if_missing=False)
    assert result.method == "unavailable" and result.model_version is None
    assert "at or before as_of" in result.notes[0] and "LEADSCORE_TRAIN_IF_MISSING" in result.notes[0]
    stored = query(copy, "select distinct propensity_method, as_of from predictive.lead_predictions")
    assert stored["propensity_method"].tolist() == ["unavailable"]


def test_a_refresh_without_a_model_trains_one_first_and_says_so(
        full_and_cut, tmp_path: Path) -> None:
    from orchestration.predictive import refresh_step

    full, _, _ = full_and_cut
    copy = dataclasses.replace(full, duckdb_path=tmp_path / "warehouse.duckdb")
    shutil.copy(full.duckdb_path, copy.duckdb_path)
    with closing(duckdb.connect(str(copy.duckdb_path))) as con:
        con.execute("drop table predictive.model_registry")
    result = refresh_step.run(copy, GENERATED_AS_OF, train_if_missing=True)
    assert "training one first (LEADSCORE_TRAIN_IF_MISSING)" in result.notes[0]
    assert result.notes[1].startswith("trained ") and result.method in {MODEL, RULES}
    registry = query(copy, "select version, as_of from predictive.model_registry")
    assert registry["version"].tolist() == [result.model_version]
    assert str(registry["as_of"].iloc[0]).startswith(GENERATED_AS_OF[:10])
    stored = query(copy, "select * from predictive.lead_predictions")
    assert stored["purchase_probability"].between(0, 1).all()
    assert set(stored["model_version"]) == {result.model_version}


def test_the_customer_value_thresholds_are_vars(full_and_cut, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestration.predictive import refresh_step

    assert TrainingConfig.from_project().customer_value_min_repeat_customers == 50
    full, _, _ = full_and_cut
    copy = dataclasses.replace(full, duckdb_path=tmp_path / "warehouse.duckdb")
    shutil.copy(full.duckdb_path, copy.duckdb_path)
    methods = {}
    for minimum in (1, 10**6):
        config = dataclasses.replace(CONFIG, customer_value_min_repeat_customers=minimum)
        monkeypatch.setattr(TrainingConfig, "from_project",
                            classmethod(lambda cls, config=config, **_: config))
        result = refresh_step.run(copy, GENERATED_AS_OF, train_if_missing=False)
        methods[minimum] = result.customer_value_method
    assert methods[1].startswith("bgnbd") and methods[10**6].startswith("average_rate")
