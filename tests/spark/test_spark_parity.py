"""The same models on Apache Spark give the same results as on DuckDB.

One small generated shop (bad rows of every kind included) arrives in three steps: a
first set of days (full build), then two refreshes, the second bringing an events file
that arrives late (after later days). Each step is loaded by the same landing loader and
built twice: with dbt-duckdb, and with dbt-spark (session mode, Parquet tables, the landing
tables handed to Spark by orchestration/spark.py). After every step the marts (scores,
stages, actions, reasons in order, history, category interest) and the quarantine
accounting must be equal.

The first Spark build is a full `dbt build` (seeds, models, every data test and unit
test); the refreshes are `dbt run` (one Spark dbt command costs about a minute of start-up).
Not collected by the default `pytest` (testpaths = tests/python): `make test-spark`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import math
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration import pipeline
from orchestration.config import Settings
from orchestration.generator import generate

pytest.importorskip("pyspark", reason="make test-spark installs requirements-spark.lock")

END = dt.date(2026, 10, 31)
DAYS = 8
LATE_DAY = 4  # its events file arrives with the last step, after days 5 and 6
#: The steps: the day indices whose files arrive, the as_of of the build, the dbt command.
STEPS = [
    (range(0, 5), "build"),
    (range(5, 7), "run"),
    (range(7, 8), "run"),
]

MARTS = ["marts.lead_scores", "marts.lead_score_history", "marts.lead_category_interest"]
QUARANTINE = "quarantine.quarantined_rows"
#: When a row was loaded or processed: differs between two loads of the same files.
BOOKKEEPING = {"_processed_batch", "_loaded_at", "loaded_at"}


def _settings(root: Path, target: str) -> Settings:
    root.mkdir(parents=True, exist_ok=True)
    return dataclasses.replace(
        Settings.from_env(),
        landing_dir=root / "landing",
        duckdb_path=root / "warehouse.duckdb",
        serving_dir=root / "serving",
        gx_docs_dir=root / "gx_docs",
        duckdb_temp_dir=root / "tmp",
        duckdb_memory_limit="2GB",
        extra_env={
            "DBT_TARGET_PATH": str(root / "target"),
            "DBT_LOG_PATH": str(root / "logs"),
            "LEADSCORE_DBT_TARGET": target,
            "LEADSCORE_SPARK_WAREHOUSE_DIR": str(root / "spark" / "warehouse"),
            "LEADSCORE_SPARK_METASTORE_DIR": str(root / "spark" / "metastore"),
            "LEADSCORE_SPARK_HANDOVER_DIR": str(root / "spark" / "handover"),
        },
    )


def _day(index: int) -> str:
    return (END - dt.timedelta(days=DAYS - 1 - index)).isoformat()


def _arrive(all_files: Path, landing: Path, days: range, late: bool) -> None:
    for index in days:
        for path in sorted(all_files.rglob(f"*_{_day(index)}.*")):
            if index == LATE_DAY and path.parent.name == "events":
                continue  # late: arrives with the last step
            target = landing / path.relative_to(all_files)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    if late:
        for path in sorted((all_files / "events").glob(f"*_{_day(LATE_DAY)}.*")):
            shutil.copy2(path, landing / "events" / path.name)


def _build(settings: Settings, command: str, as_of: str) -> None:
    pipeline.load_landing(settings)
    args = [command, "--quiet"]
    if command == "build" and not pipeline.on_spark(settings):
        args += ["--exclude-resource-type", "unit_test", "test"]  # DuckDB's run in make test
    if pipeline.on_spark(settings):
        pipeline.hand_over_to_spark(settings)
        pipeline.run_dbt(settings, args, as_of=as_of, quiet=True)
        pipeline.bring_back_from_spark(settings, tables=[*MARTS, QUARANTINE])
    else:
        pipeline.run_dbt(settings, args, as_of=as_of, quiet=True)


def _value(value: object) -> object:
    """One cell, comparable across engines: floats to 9 decimals, JSON text parsed."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float):
        return round(value, 9)
    if hasattr(value, "as_integer_ratio") and not isinstance(value, int):  # Decimal
        return round(float(value), 9)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _table(settings: Settings, name: str) -> pd.DataFrame:
    with contextlib.closing(duckdb.connect(str(settings.duckdb_path), read_only=True)) as con:
        frame = con.execute(f"select * from {name}").df()
    frame = frame.drop(columns=[c for c in frame.columns if c in BOOKKEEPING])
    frame = frame[sorted(frame.columns)].astype(object).map(_value)
    if "raw_row" in frame.columns:  # JSON text: equal as JSON (spacing may differ)
        frame["raw_row"] = frame["raw_row"].map(lambda text: json.dumps(json.loads(text), sort_keys=True))
    return frame.sort_values(list(frame.columns), key=lambda s: s.astype(str)).reset_index(drop=True)


def _accounting(settings: Settings) -> pd.DataFrame:
    with contextlib.closing(duckdb.connect(str(settings.duckdb_path), read_only=True)) as con:
        return con.execute(
            f"select entity, reason, count(*) as n from {QUARANTINE} group by all order by all"
        ).df()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spark-parity")
    generate(root / "all", leads=120, days=DAYS, seed=23, end_date=END, bad_row_share=0.03)
    return root


def test_spark_builds_what_duckdb_builds_full_and_incremental(shop: Path) -> None:
    engines = {target: _settings(shop / target, target) for target in ("duckdb", "spark")}
    for number, (days, command) in enumerate(STEPS):
        as_of = (END - dt.timedelta(days=DAYS - 1 - days[-1] - 1)).isoformat()
        late = number == len(STEPS) - 1
        for settings in engines.values():
            _arrive(shop / "all", settings.landing_dir, days, late)
            _build(settings, command, as_of)
        duck, spark = engines["duckdb"], engines["spark"]
        accounting = _accounting(duck)
        assert not accounting.empty, "the shop must have quarantined rows"
        pd.testing.assert_frame_equal(accounting, _accounting(spark), check_dtype=False,
                                      obj=f"quarantine accounting after step {number}")
        for name in [*MARTS, QUARANTINE]:
            expected = _table(duck, name)
            assert len(expected), f"{name} is empty after step {number}"
            pd.testing.assert_frame_equal(expected, _table(spark, name), check_dtype=False,
                                          obj=f"{name} after step {number}")
    history = _table(engines["spark"], "marts.lead_score_history")
    assert history["as_of"].nunique() == len(STEPS)
    reasons = _table(engines["spark"], "marts.lead_scores")["score_reasons"].dropna()
    assert reasons.str.contains(r"\. ").any(), "reasons of several rules, in their order"
