"""The semantic layer (MetricFlow): `mf` answers equal the same SQL on the marts.

`mf` reads the semantic manifest only from <project>/target/semantic_manifest.json, while
the test warehouses keep their dbt target in their own folder. So `mf` runs in a project
folder of links to this repository whose target/ holds a manifest parsed for the warehouse, with the
warehouse's environment (profiles.yml reads LEADSCORE_DUCKDB_PATH): the commands of the
README's "Semantic layer (MetricFlow)", on the session's small generated shop.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from orchestration import pipeline
from orchestration.config import Settings
from warehouse_helpers import query

REPO = Path(__file__).resolve().parents[2]
MF = Path(sys.executable).parent / "mf"
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests")


@pytest.fixture(scope="module")
def mf_project(generated_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert MF.exists(), f"{MF} is missing: install requirements.lock (dbt-metricflow)"
    root = tmp_path_factory.mktemp("mf_project")
    for name in PROJECT_FILES:
        (root / name).symlink_to(REPO / name)
    # The project's own semantic manifest, parsed for this warehouse (it names the database
    # after the warehouse file): the session's target folder is shared with tests that run
    # dbt on copies of the warehouse (a backtest's), whose manifests name their copy.
    target = root / "target"
    pipeline.run_dbt(generated_warehouse, ["parse", "--target-path", str(target)], quiet=True)
    assert (target / "semantic_manifest.json").exists(), "dbt parse wrote no semantic manifest"
    return root


def mf(settings: Settings, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.dbt_env()}
    proc = subprocess.run([str(MF), *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"mf {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def mf_query(settings: Settings, project: Path, tmp_path: Path, *args: str) -> pd.DataFrame:
    out = tmp_path / "result.csv"
    mf(settings, project, "query", *args, "--csv", str(out))
    return pd.read_csv(out, keep_default_na=False)


def mql_stage() -> str:
    """The stage that rules/lifecycle_stages qualifies by lead score: the MQL stage."""
    stages = pd.read_csv(REPO / "seeds" / "rules" / "lifecycle_stages.csv")
    by_score = stages[stages["min_lead_score"].notna()]
    assert len(by_score) == 1, "rules/lifecycle_stages should have one stage set by lead score"
    return str(by_score["lifecycle_stage"].iloc[0])


def test_mf_validate_configs_passes(generated_warehouse: Settings, mf_project: Path) -> None:
    # semantic checks, then every semantic model, dimension, entity, measure and metric
    # queried against the warehouse
    proc = mf(generated_warehouse, mf_project, "validate-configs")
    assert "ERRORS: 0" in proc.stdout


def test_leads_by_lifecycle_stage_equal_the_mart(generated_warehouse: Settings, mf_project: Path,
                                                 tmp_path: Path) -> None:
    answer = mf_query(generated_warehouse, mf_project, tmp_path,
                      "--metrics", "leads", "--group-by", "lead__lifecycle_stage")
    got = dict(zip(answer["lead__lifecycle_stage"], answer["leads"].astype(int)))
    expected = query(generated_warehouse, """
        select lifecycle_stage, count(*) as leads from marts.lead_scores group by all""")
    assert len(expected) >= 3  # the shop has several stages: a real grouping
    assert got == dict(zip(expected["lifecycle_stage"], expected["leads"].astype(int)))


def test_lead_metrics_equal_the_mart(generated_warehouse: Settings, mf_project: Path,
                                     tmp_path: Path) -> None:
    answer = mf_query(generated_warehouse, mf_project, tmp_path, "--metrics",
                      "average_lead_score,contactable_leads,marketing_qualified_leads,leads")
    assert len(answer) == 1
    got = answer.iloc[0]
    expected = query(generated_warehouse, """
        select avg(lead_score) as average_lead_score,
               count(*) filter (where is_contactable) as contactable_leads,
               count(*) filter (where lifecycle_stage = ?) as marketing_qualified_leads,
               count(*) as leads
        from marts.lead_scores""", [mql_stage()]).iloc[0]
    # each count a strict, non-empty part of the leads: the filters are really applied
    for metric in ("contactable_leads", "marketing_qualified_leads"):
        assert 0 < expected[metric] < expected["leads"]
        assert int(got[metric]) == int(expected[metric]), metric
    assert int(got["leads"]) == int(expected["leads"])
    assert float(got["average_lead_score"]) == pytest.approx(float(expected["average_lead_score"]))


def test_campaign_uplift_equals_the_marts_overall_rows(generated_warehouse: Settings,
                                                      mf_project: Path, tmp_path: Path) -> None:
    expected = query(generated_warehouse, """
        select campaign_id, uplift, uplift_standard_error, treated_leads, control_leads
        from marts.campaign_results where is_overall and uplift is not null""")
    if expected.empty:
        pytest.skip("the generated shop has no campaign with a closed week")
    answer = mf_query(generated_warehouse, mf_project, tmp_path, "--metrics",
                      "campaign_uplift,campaign_uplift_standard_error,"
                      "campaign_treated_leads_closed,campaign_control_leads_closed",
                      "--group-by", "campaign")
    got = answer.set_index("campaign").loc[expected["campaign_id"]]
    assert got["campaign_uplift"].astype(float).tolist() == pytest.approx(
        expected["uplift"].astype(float).tolist())
    assert got["campaign_uplift_standard_error"].astype(float).tolist() == pytest.approx(
        expected["uplift_standard_error"].astype(float).tolist())
    assert got["campaign_treated_leads_closed"].astype(int).tolist() == \
        expected["treated_leads"].astype(int).tolist()
    assert got["campaign_control_leads_closed"].astype(int).tolist() == \
        expected["control_leads"].astype(int).tolist()
