"""Whole-pipeline behaviour of the scores on small generated shops."""

from __future__ import annotations

import os
import shutil
import subprocess

import pandas as pd
import pytest

from orchestration import pipeline
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
    assert mart["score_reasons"].str.contains(r"\([+-]\d+\)").mean() > 0.9
    assert mart["lifecycle_stage"].nunique() >= 4


def test_same_data_and_as_of_give_identical_marts_and_a_later_as_of_appends_history(tmp_path):
    settings = make_settings(tmp_path)
    generate(settings.landing_dir, leads=120, days=10, seed=9, end_date=GENERATED_END)
    build_warehouse(settings, GENERATED_AS_OF)
    first = _mart(settings)
    pipeline.run_dbt(settings, ["run", "--quiet"], as_of=GENERATED_AS_OF, quiet=True)
    pd.testing.assert_frame_equal(first, _mart(settings))
    history = query(settings, "select as_of, count(*) as n from marts.lead_score_history group by as_of")
    assert history["n"].tolist() == [len(first)]  # re-run at the same as_of: not duplicated

    pipeline.run_dbt(settings, ["run", "--quiet"], as_of="2026-11-05", quiet=True)
    history = query(settings, "select as_of, count(*) as n from marts.lead_score_history group by as_of order by as_of")
    assert len(history) == 2
    later = query(settings, "select lead_id, lead_score, previous_lead_score, score_change, previous_as_of from marts.lead_scores")
    assert (later["previous_as_of"] == pd.Timestamp("2026-11-01")).all()
    assert (later["score_change"] == later["lead_score"] - later["previous_lead_score"]).all()
    # four days without activity: scores decay
    assert (later["score_change"] <= 0).mean() > 0.9


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
    env = {**os.environ, **settings.dbt_env()}
    subprocess.run(
        [pipeline.dbt_executable(), "build", "--quiet", "--select", "dimension_settings", "tag:as_of",
         "--exclude-resource-type", "unit_test", "test",  # just the new weights and the scores
         "--vars", pipeline.dbt_vars(GENERATED_AS_OF)],
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
