"""``leadscore bench --dagster-events``: what recording a refresh's Dagster events costs.

A refresh yields one materialization per dbt model and seed and, per dbt data test, a
planned and an evaluated asset check. This job yields the same kinds of events in the
same numbers (default: 60 assets, 340 checks, as the demo's refresh) and runs it on three
instances in fresh temporary folders: Dagster's default SQLite storage, leadscore's
(:mod:`orchestration.dagster_instance`) and an in-memory one (the floor). It prints the
wall time of each and writes them to ``bench/results/dagster-events-<date>.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

import dagster as dg

from orchestration.dagster_instance import DAGSTER_YAML

DEFAULT_STORAGE_YAML = "telemetry:\n  enabled: false\n"


def _job(assets: int, checks: int) -> dg.JobDefinition:
    specs = [dg.AssetSpec(f"asset_{i}") for i in range(assets)]
    check_specs = [dg.AssetCheckSpec(f"check_{j}", asset=f"asset_{j % assets}")
                   for j in range(checks)]

    @dg.multi_asset(specs=specs, check_specs=check_specs, name="dbt_like")
    def dbt_like():  # type: ignore[no-untyped-def]
        for i in range(assets):
            yield dg.MaterializeResult(asset_key=f"asset_{i}")
        for j in range(checks):
            yield dg.AssetCheckResult(asset_key=f"asset_{j % assets}", check_name=f"check_{j}",
                                      passed=True)

    job = dg.define_asset_job("events", executor_def=dg.in_process_executor)
    return dg.Definitions(assets=[dbt_like], jobs=[job]).resolve_job_def("events")


def _timed(job: dg.JobDefinition, yaml_text: str | None) -> float:
    with tempfile.TemporaryDirectory(prefix="leadscore-dagster-bench-") as home:
        if yaml_text is None:
            instance = dg.DagsterInstance.ephemeral()
        else:
            Path(home, "dagster.yaml").write_text(yaml_text, encoding="utf-8")
            previous = os.environ.get("DAGSTER_HOME")
            os.environ["DAGSTER_HOME"] = home
            try:
                instance = dg.DagsterInstance.from_config(home)
            finally:
                if previous is None:
                    os.environ.pop("DAGSTER_HOME", None)
                else:
                    os.environ["DAGSTER_HOME"] = previous
        try:
            started = time.perf_counter()
            result = job.execute_in_process(
                instance=instance,
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
            elapsed = time.perf_counter() - started
            if not result.success:
                raise RuntimeError("the benchmark job failed")
            return elapsed
        finally:
            instance.dispose()


def run(assets: int = 60, checks: int = 340, out_dir: Path | None = None) -> dict:
    job = _job(assets, checks)
    results = {
        "assets": assets,
        "checks": checks,
        "dagster_default_sqlite_s": round(_timed(job, DEFAULT_STORAGE_YAML), 1),
        "leadscore_sqlite_s": round(_timed(job, DAGSTER_YAML), 1),
        "in_memory_s": round(_timed(job, None), 1),
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "date": dt.date.today().isoformat(),
    }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"dagster-events-{results['date']}.json"
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        results["written_to"] = str(path)
    return results
