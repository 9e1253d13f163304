"""The benchmark's bookkeeping (the benchmark itself is `make bench`, not part of the tests)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict

from orchestration.bench import Phase, _dbt_timings, _step_seconds, markdown


def test_dbt_timings_add_up_every_dbt_step_of_the_phase(tmp_path) -> None:
    # a refresh runs dbt twice (models, then marts): both count; an older file does not
    older, models, marts = (tmp_path / name / "run_results.json" for name in ("a", "b", "c"))
    for path, elapsed, seconds in ((older, 1.0, 99.0), (models, 42.25, 7.5), (marts, 8.0, 3.0)):
        path.parent.mkdir()
        path.write_text(json.dumps({"elapsed_time": elapsed, "results": [
            {"unique_id": f"model.leadscore.slow_{path.parent.name}", "execution_time": seconds},
            {"unique_id": "model.leadscore.fast", "execution_time": 0.5},
            {"unique_id": "test.leadscore.not_a_model", "execution_time": 100.0},
        ]}))
    os.utime(older, (time.time() - 60, time.time() - 60))
    phase = Phase("full build", ["leadscore", "run"])
    # a folder listed twice (or nested in another listed one) counts once
    _dbt_timings(phase, [tmp_path, tmp_path / "b", tmp_path], since=time.time() - 30)
    assert phase.dbt_seconds == 50.2  # 42.25 + 8.0, rounded to 0.1 s
    assert phase.slowest_models[:2] == [("slow_b", 7.5), ("slow_c", 3.0)]
    assert ("slow_a", 99.0) not in phase.slowest_models


def test_markdown_table_has_a_row_per_phase_and_the_share() -> None:
    phases = [
        Phase("generate", ["g"], wall_seconds=10.0, rows=1_000_000, rows_per_second=100_000.0,
              peak_rss_bytes=2**30),
        Phase("full build", ["r"], wall_seconds=100.0, rows=1_000_000, rows_per_second=10_000.0,
              peak_rss_bytes=3 * 2**30, dbt_seconds=60.0, slowest_models=[("m", 9.0)]),
        Phase("one-day incremental refresh", ["r"], wall_seconds=20.0, rows=10_000,
              rows_per_second=500.0, peak_rss_bytes=2**30, dbt_seconds=12.0),
    ]
    result = {"scale": "small", "leads": 20_000, "days": 90, "date": "2026-11-22",
              "machine": {"cpus": 2, "memory_gib": 23.5, "python": "3.11.7"},
              "duckdb_memory_limit": "8GB", "incremental_share_of_full": 0.2,
              "phases": [asdict(p) for p in phases]}
    text = markdown(result)
    assert "| full build | 100.0 s | 60.0 s | 1,000,000 | 10,000 | 3.00 GiB |" in text
    assert "| generate | 10.0 s | - |" in text
    assert "One-day refresh / full build: 20.0%." in text
    assert "Slowest dbt models, full build: m 9.0 s." in text


def test_step_times_are_read_from_the_refresh_report(tmp_path) -> None:
    log = tmp_path / "full.log"
    log.write_text("Refresh run 1a2b succeeded in 61.3 s (landing 11.3 s, dbt_models 32.9 s, "
                   "marts__lead_scores_gx_lead_scores 1.2 s, serving_export 0.3 s).\nLoaded ...\n")
    assert _step_seconds(log) == {"landing": 11.3, "dbt_models": 32.9,
                                  "marts__lead_scores_gx_lead_scores": 1.2, "serving_export": 0.3}
    assert _step_seconds(tmp_path / "missing.log") == {}


def test_training_figures_are_read_from_the_train_report(tmp_path) -> None:
    from orchestration.bench import _training_figures

    log = tmp_path / "train.log"
    log.write_text(
        "Trained 20261101T000000-abc at as_of 2026-11-01 00:00:00: method model (...)\n"
        "  snapshots: train 2026-08-26, 2026-09-02; validation 2026-10-02\n"
        "  rows 91,317, positives 8,120, negatives 83,197; 19.8 s per snapshot\n")
    assert _training_figures(log) == {"training rows": 91317, "positives": 8120,
                                      "seconds per snapshot": 19.8, "snapshots": 3}
    assert _training_figures(tmp_path / "missing.log") == {}
