"""The dbt target is chosen by LEADSCORE_DBT_TARGET: duckdb or spark, nothing else.

(The Spark build itself is proven by tests/spark, `make test-spark`: it needs a JVM.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration import cli
from orchestration.config import Settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEADSCORE_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("LEADSCORE_DUCKDB_PATH", str(tmp_path / "data" / "warehouse.duckdb"))
    for name in ("LEADSCORE_SPARK_WAREHOUSE_DIR", "LEADSCORE_SPARK_METASTORE_DIR",
                 "LEADSCORE_SPARK_HANDOVER_DIR", "LEADSCORE_SPARK_MASTER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path


def test_an_unknown_target_is_one_clear_error_before_anything_runs(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEADSCORE_DBT_TARGET", "snowflake")
    assert cli.main(["run"]) == 1
    err = capsys.readouterr().err
    assert "LEADSCORE_DBT_TARGET must be one of duckdb, spark, got 'snowflake'" in err
    assert not (env / "data").exists()  # nothing was loaded or built


def test_the_spark_target_gives_dbt_sparks_folders_beside_the_warehouse(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADSCORE_DBT_TARGET", "duckdb")
    assert not any(key.startswith("LEADSCORE_SPARK_") for key in Settings.from_env().dbt_env())
    monkeypatch.setenv("LEADSCORE_DBT_TARGET", "spark")
    monkeypatch.setenv("LEADSCORE_SPARK_MASTER", "spark://cluster:7077")
    dbt_env = Settings.from_env().dbt_env()
    assert dbt_env["LEADSCORE_SPARK_WAREHOUSE_DIR"] == str(env / "data" / "spark" / "warehouse")
    assert dbt_env["LEADSCORE_SPARK_METASTORE_DIR"] == str(env / "data" / "spark" / "metastore")
    assert dbt_env["LEADSCORE_SPARK_MASTER"] == "spark://cluster:7077"
