"""Helpers to build small, isolated warehouses in tests."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

from orchestration import pipeline
from orchestration.config import Settings

#: as_of used by the small warehouses: the day after the generated data ends.
GENERATED_END = dt.date(2026, 10, 31)
GENERATED_AS_OF = "2026-11-01"


def make_settings(root: Path) -> Settings:
    """Settings whose every path is inside `root`."""
    root.mkdir(parents=True, exist_ok=True)
    base = Settings.from_env()
    return dataclasses.replace(
        base,
        landing_dir=root / "landing",
        duckdb_path=root / "warehouse.duckdb",
        serving_dir=root / "serving",
        gx_docs_dir=root / "gx_docs",
        duckdb_temp_dir=root / "tmp",
        duckdb_memory_limit="2GB",
        extra_env={"DBT_TARGET_PATH": str(root / "target"), "DBT_LOG_PATH": str(root / "logs")},
    )


def build_warehouse(settings: Settings, as_of: str, *, tests: bool = False) -> None:
    """Load the landing folder and build every model (with data tests when asked)."""
    pipeline.load_landing(settings)
    skipped = ["unit_test"] if tests else ["unit_test", "test"]
    pipeline.run_dbt(settings, ["build", "--quiet", "--exclude-resource-type", *skipped], as_of=as_of,
                     quiet=True)


def query(settings: Settings, sql: str, params: list | None = None) -> pd.DataFrame:
    with contextlib.closing(duckdb.connect(str(settings.duckdb_path), read_only=True)) as con:
        return con.execute(sql, params or []).df()
