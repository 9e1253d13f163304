"""Whole-pipeline behaviour of the scores on small generated shops."""

from __future__ import annotations

import os
import shutil
import subprocess

import pandas as pd
import pytest

from orchestration import pipeline, serving
from orchestration.backtest import run_backtest
from orchestration.config import PROJECT_ROOT
from orchestration.generator import generate
from warehouse_helpers import GENERATED_AS_OF, GENERATED_END, build_warehouse, make_settings, query

MART_COLUMNS = (
    "lead_id, as_of, lead_score, demographic_score, engagement_score, page_intent_score, purchase_score, "
    "fit_grade, engagement_tier, score_cell, lifecycle_stage, top_category, rfm_segment, "
    "recommended_action, score_reasons, is_contactable"
)


def _mart(settings) -> pd.DataFrame:
    return query(settings, f"select {MART_COLUMNS} from marts.lead_scores order by lead_id")


def test_mart_has_one_row_per_known_lead_with_sane_scores(generated_warehouse):
    mart = _mart(generated_warehouse)
    known = query(
        generated_warehouse,
        "select count(distinct lead_id) as n from ("
        " select lead_id from staging.stg_landing__leads where coalesce(created_at, version_at) < ?"
        " union all select lead_id from staging.stg_landing__orders where ordered_at < ?"
        " union all select resolved_lead_id from intermediate.int_events_sessionized"
        "   where resolved_lead_id is not null and occurred_at < ?"
        "   and (identity_linked_at is null or identity_linked_at < ?))",
        [GENERATED_AS_OF] * 4,
    )["n"].iloc[0]
    assert len(mart) == known > 100
    assert mart["lead_id"].is_unique
    assert mart["lead_score"].between(0, 100).all() and mart["lead_score"].nunique() > 10
    assert set(mart["fit_grade"]) <= set("ABCD") and set(mart["engagement_tier"]) <= {1, 2, 3, 4}
    assert (mart["score_cell"] == mart["fit_grade"] + mart["engagement_tier"].astype(str)).all()
    assert mart["score_reasons"].str.contains(r" (?:added|took) \d+\.\d points").mean() > 0.9
    assert mart["lifecycle_stage"].nunique() >= 4


def _score_at(settings, as_of: str, *, publish: bool = False) -> pd.DataFrame:
    pipeline.run_dbt(settings, ["run", "--quiet"], as_of=as_of, quiet=True)
    if publish:
        serving.record_publication(settings)
    return query(
        settings,
        "select lead_id, lead_score, behaviour_score, score_change, previous_lead_score, previous_as_of,"
        " score_change_7d from marts.lead_scores order by lead_id",
    )


def test_same_data_and_as_of_give_identical_marts_and_history_is_not_duplicated(tmp_path):
    settings = make_settings(tmp_path)
    generate(settings.landing_dir, leads=120, days=10, seed=9, end_date=GENERATED_END)
    build_warehouse(settings, GENERATED_AS_OF)
    first = _mart(settings)
    pipeline.run_dbt(settings, ["run", "--quiet"], as_of=GENERATED_AS_OF, quiet=True)
    pd.testing.assert_frame_equal(first, _mart(settings))
    history = query(settings, "select as_of, count(*) as n from marts.lead_score_history group by as_of")
    assert history["n"].tolist() == [len(first)]  # re-run at the same as_of: not duplicated


def test_score_change_compares_with_published_scorings_of_earlier_days(tmp_path):
    """score_change: the latest *published* scoring of an earlier day; score_change_7d: the
    latest published one at least a week back. Unpublished runs (a failed gate) and later
    runs of the same day never become the reference."""
    settings = make_settings(tmp_path)
    generate(settings.landing_dir, leads=120, days=10, seed=9, end_date=GENERATED_END)
    build_warehouse(settings, GENERATED_AS_OF)
    serving.record_publication(settings)  # 11-01 published
    _score_at(settings, "2026-11-03")  # scored, never published (its gate failed)
    morning = _score_at(settings, "2026-11-05 06:00:00", publish=True)
    noon = _score_at(settings, "2026-11-05 12:00:00")
    for scoring in (morning, noon):
        assert (scoring["previous_as_of"] == pd.Timestamp("2026-11-01")).all()
        assert (scoring["score_change"] == scoring["lead_score"] - scoring["previous_lead_score"]).all()
    assert noon["score_change_7d"].isna().all()  # nothing published a week before
    week = _score_at(settings, "2026-11-08 12:00:00")
    assert (week["previous_as_of"] == pd.Timestamp("2026-11-05 06:00:00")).all()
    first = query(settings, "select lead_id, lead_score from marts.lead_score_history where as_of = '2026-11-01'")
    expected = week.merge(first, on="lead_id", suffixes=("", "_then"))
    assert len(expected) > 50
    assert (expected["score_change_7d"] == expected["lead_score"] - expected["lead_score_then"]).all()
    history = query(settings, "select count(distinct as_of) as n from marts.lead_score_history")
    assert history["n"].iloc[0] == 5  # every run stays in the history, published or not


def test_without_new_data_behaviour_scores_only_fall_unless_a_penalty_fades_or_a_cart_lapses(tmp_path):
    """Four days later with no new data, decay must lower behaviour scores. A rise is only
    legitimate where negative points decay away or a cart became abandoned in between."""
    settings = make_settings(tmp_path)
    generate(settings.landing_dir, leads=200, days=21, seed=9, end_date=GENERATED_END)
    build_warehouse(settings, GENERATED_AS_OF)
    before = _score_at(settings, GENERATED_AS_OF).set_index("lead_id")
    explained = set(query(
        settings,
        "select lead_id from intermediate.int_behaviour_rule_points where points < 0"
        " union select lead_id from intermediate.int_lead_carts where not is_converted"
        "   and abandoned_at > cast(? as timestamp)",
        [GENERATED_AS_OF],
    )["lead_id"])
    after = _score_at(settings, "2026-11-05").set_index("lead_id")
    both = before.merge(after, left_index=True, right_index=True, suffixes=("_before", "_after"))
    plain = both[~both.index.isin(explained)]
    assert len(plain) > 100
    rose = plain[plain["behaviour_score_after"] > plain["behaviour_score_before"]]
    assert rose.empty, f"scores rose without new data: {rose.head().to_dict('index')}"
    assert (plain["behaviour_score_after"] < plain["behaviour_score_before"]).mean() > 0.3


def test_orders_only_shop_is_ranked_by_purchase_behaviour(tmp_path):
    settings = make_settings(tmp_path)
    generate(settings.landing_dir, leads=200, days=30, seed=3, end_date=GENERATED_END)
    shutil.rmtree(settings.landing_dir / "events")
    shutil.rmtree(settings.landing_dir / "leads")
    build_warehouse(settings, GENERATED_AS_OF)
    mart = query(settings, "select * from marts.lead_scores")
    assert len(mart) > 10
    assert (mart["lead_score"] == mart["purchase_score"]).all()
    assert mart["lead_score"].nunique() > 3
    repeat = mart[mart["completed_orders"] >= 2]["lead_score"].mean()
    once = mart[mart["completed_orders"] == 1]["lead_score"].mean()
    assert repeat > once


def test_events_only_shop_gets_behaviour_scores(tmp_path):
    settings = make_settings(tmp_path)
    generate(settings.landing_dir, leads=150, days=14, seed=4, end_date=GENERATED_END)
    shutil.rmtree(settings.landing_dir / "orders")
    shutil.rmtree(settings.landing_dir / "leads")
    build_warehouse(settings, GENERATED_AS_OF)
    mart = query(settings, "select * from marts.lead_scores")
    assert len(mart) > 50
    assert mart["demographic_score"].eq(0).all()
    assert mart["lead_score"].nunique() > 5
    assert (mart["lead_score"] - mart["behaviour_score"]).abs().max() <= 1


def test_changing_a_seed_weight_changes_scores_the_documented_way(tmp_path, generated_warehouse):
    """With only the purchase weight left, lead_score == purchase_score (weights are data)."""
    project = tmp_path / "project"
    project.mkdir()
    for item in ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests"):
        source = PROJECT_ROOT / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / item)
    settings_file = project / "seeds/rules/dimension_settings.csv"
    rows = settings_file.read_text().splitlines()
    rewritten = [rows[0]]
    for row in rows[1:]:
        cells = row.split(",")
        cells[1] = "1" if cells[0] == "purchase" else "0"
        rewritten.append(",".join(cells))
    settings_file.write_text("\n".join(rewritten) + "\n")

    settings = make_settings(tmp_path / "wh")
    shutil.copy(generated_warehouse.duckdb_path, settings.duckdb_path)
    env = {**os.environ, **settings.dbt_env(), **pipeline.as_of_env(GENERATED_AS_OF)}
    subprocess.run(
        [pipeline.dbt_executable(), "build", "--quiet", "--select", "dimension_settings", "tag:as_of",
         "--exclude-resource-type", "unit_test", "test"],  # just the new weights and the scores
        cwd=project, env=env, check=True, capture_output=True, text=True,
    )
    mart = query(settings, "select lead_score, purchase_score from marts.lead_scores")
    assert (mart["lead_score"] == mart["purchase_score"]).all()
    before = query(generated_warehouse, "select lead_score, purchase_score from marts.lead_scores")
    assert not (before["lead_score"] == before["purchase_score"]).all()


def test_backtest_ranks_future_buyers_higher(tmp_path):
    settings = make_settings(tmp_path)
    truth = tmp_path / "truth"
    generate(settings.landing_dir, truth_out=truth, leads=1500, days=45, seed=21, end_date=GENERATED_END)
    build_warehouse(settings, "2026-10-15")
    result = run_backtest(settings, as_of=GENERATED_AS_OF, truth_dir=truth, out_dir=tmp_path / "out")
    assert result.converters > 20
    assert result.auc["lead_score"] > 0.65
    assert result.top_decile_lift > 2
    assert (tmp_path / "out" / "backtest-2026-11-01.json").exists()
    assert "decile" in result.format()
    # the purchase probability at the same as_of, beside the rule score and the RFM sum: no
    # model was registered, so one was trained on the backtest's copy, and thrown away
    propensity = result.propensity
    assert propensity["method"] in {"model", "rules_calibrated"}
    assert any(note.startswith("trained ") for note in propensity["notes"])
    rankings = propensity["rankings"]
    assert set(rankings) == {"purchase_probability", "lead_score", "rfm_quintile_sum"}
    probability = rankings["purchase_probability"]
    assert probability["rows"] == result.leads and probability["positives"] == result.converters
    assert probability["auc"] > 0.6 and probability["top_decile_lift"] > 2
    assert 0 <= probability["calibration_error"] < 0.1
    assert len(probability["calibration_deciles"]) == 10
    assert rankings["lead_score"]["auc"] == pytest.approx(result.auc["lead_score"], abs=1e-3)
    text = result.format()
    assert "beside the rule score and an RFM quintile sum" in text
    assert "calibration error" in text and "probability decile" in text
    assert not settings.duckdb_path.with_name("models").exists()
    registry = query(settings, "select count(*) as n from information_schema.tables "
                               "where table_name = 'model_registry'")
    assert registry["n"].iloc[0] == 0  # the live warehouse never saw the backtest's model
