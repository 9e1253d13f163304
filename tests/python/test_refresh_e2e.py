"""``leadscore run`` end to end: the whole Dagster graph on small generated data.

One warehouse is built once per session (fixture ``built``) and reused; every test
leaves it refreshable. The runs here are what takes time (dbt builds on 2 cores).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pandas as pd
import psutil
import pytest
from fixtures_orchestration import (  # noqa: F401  (fixtures)
    AS_OF,
    DAYS,
    Built,
    Workspace,
    built,
    generate_landing,
    leadscore_command,
    orchestration_session,
    patched_environ,
    workspace,
)
from test_serving import start_reader, stop_reader

from orchestration import assets, landing, pipeline, run_summary, serving
from orchestration.refresh import RefreshFailed, refresh


def query_one(settings, sql: str, params: list | None = None):
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        return con.execute(sql, params or []).fetchone()[0]


def warehouse_count(settings, table: str) -> int:
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        return con.execute(f"select count(*) from {table}").fetchone()[0]


def published(serving_dir: Path) -> dict[str, object]:
    """The published version as a reader sees it: manifest plus file identities."""
    return {
        "manifest": serving.read_manifest(serving_dir),
        **{name: (os.stat(serving_dir / name).st_ino, os.stat(serving_dir / name).st_mtime_ns)
           for name in (serving.PARQUET_NAME, serving.DUCKDB_NAME)},
    }


def test_whole_graph_materialises_and_publishes(built: Built) -> None:
    settings, result = built.workspace.settings(), built.result
    # serving files exist, are readable, and match the warehouse
    leads = warehouse_count(settings, "marts.lead_scores")
    assert leads > 100
    parquet = pd.read_parquet(settings.serving_dir / serving.PARQUET_NAME)
    assert len(parquet) == leads and parquet["lead_id"].is_unique
    with contextlib.closing(duckdb.connect(
            str(settings.serving_dir / serving.DUCKDB_NAME), read_only=True)) as con:
        # the marts, and the campaign marts the warehouse has (OPTIONAL_TABLES)
        tables = {**serving.TABLES, **serving.OPTIONAL_TABLES}
        served = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}
    assert set(serving.OPTIONAL_TABLES) <= set(served)  # the generated shop has campaigns
    assert served == {t: warehouse_count(settings, source) for t, source in tables.items()}
    manifest = serving.read_manifest(settings.serving_dir)
    assert manifest["row_counts"] == served and manifest["as_of"] == "2024-07-01 00:00:00"
    assert manifest["run_id"] == result.run_id
    # every check ran and passed: GX gates and dbt tests
    names = {c.check for c in result.checks}
    assert {"gx_landing_batches", "gx_lead_scores", "unique_lead_scores_lead_id"} <= names
    assert all(c.passed for c in result.checks)
    assert "campaign_sends" in landing.CONTRACT  # the optional entity is loaded like the others
    assert result.load.total_rows == sum(
        warehouse_count(settings, f"landing.{entity}") for entity in landing.CONTRACT)
    # the report says it all
    report = result.report
    for expected in (
        f"Loaded now: {result.load.total_rows:,} rows from {len(result.load.files)} new file(s)",
        "Quarantined now: ", "unknown_event_type",
        "Quarantined in all loads so far (all time): ",
        "Landing gate (GX): passed", "Mart gate (GX): passed",
        "dbt tests: ", " 0 failed",
        str(settings.serving_dir / "lead_scores.parquet"),
        str(settings.serving_dir / "serving.duckdb"),
        f"Quality page (GX results, offline): {settings.gx_docs_dir / 'index.html'}",
        "Top leads (", "Campaigns: leads per recommended action",
    ):
        assert expected in report, expected
    # the run summary beside the manifest: this run's numbers, and dbt's test count
    summary = result.summary
    assert summary == run_summary.read(settings.serving_dir) and summary["run_id"] == result.run_id
    assert summary["load"]["rows"] == result.load.total_rows
    quarantined = warehouse_count(settings, "quarantine.quarantined_rows")
    assert summary["quarantine"]["this_run_rows"] == quarantined > 0  # the first load: all
    assert summary["leads"]["scored"] == leads == summary["leads"]["new_since_last_publication"]
    tests = summary["checks"]["dbt_tests"]
    dbt_checks = [c for c in result.checks if not c.is_gx]
    assert tests["defined"] == assets.dbt_data_test_count() == tests["run"] == len(dbt_checks)
    assert f"dbt tests: {tests['defined']:,} of {tests['defined']:,} passed" in report
    assert sum(c["leads"] for c in summary["campaigns"]) == leads
    # no model trained (the workspace turns LEADSCORE_TRAIN_IF_MISSING off): no probability,
    # and the mart and the summary say why instead of showing a number
    assert summary["predictive"]["methods"] == {"unavailable": leads}
    assert "Purchase probability: unavailable (no model trained yet" in report
    mart = pd.read_parquet(settings.serving_dir / serving.PARQUET_NAME)
    assert mart["purchase_probability"].isna().all()
    assert set(mart["propensity_method"]) == {"unavailable"}
    assert [t["lead_id"] for t in summary["top_leads"]] == list(pd.read_parquet(
        settings.serving_dir / serving.PARQUET_NAME).sort_values(
        ["lead_score", "lead_id"], ascending=[False, True])["lead_id"][:len(summary["top_leads"])])
    assert (settings.gx_docs_dir / "mart" / "index.html").exists()
    assert (settings.gx_docs_dir / "landing" / "index.html").exists()


def test_second_refresh_exits_with_a_clear_message(built: Built) -> None:
    settings = built.workspace.settings()
    with pipeline.refresh_lock(settings):
        with pytest.raises(pipeline.RefreshAlreadyRunning, match="already running.*--wait"):
            refresh(settings, as_of=AS_OF)


def test_failing_mart_check_stops_the_publish(built: Built) -> None:
    settings = built.workspace.settings()
    before = published(settings.serving_dir)
    strict = dataclasses.replace(settings, max_grade_share=0.3)  # LEADSCORE_MAX_GRADE_SHARE
    with pytest.raises(RefreshFailed) as caught:
        refresh(strict, as_of=AS_OF)
    message = str(caught.value)
    assert "gx_lead_scores" in message
    assert "FAILED (BLOCKING) fit_grade: grade " in message
    assert "holds at most 30% of the leads with a profile (LEADSCORE_MAX_GRADE_SHARE)" in message
    first = message.splitlines()[0]  # what stopped the run, before the details
    assert first.startswith("the refresh stopped (step ")
    assert "blocking check failed: marts/lead_scores gx_lead_scores" in first
    assert "(lead_id L" in message  # examples of offending leads
    assert "serving layer was not updated" in message
    assert published(settings.serving_dir) == before


def test_a_failure_after_the_export_says_the_scores_were_published(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration import report

    def broken(*_args, **_kwargs):
        raise RuntimeError("the report could not be drawn")

    monkeypatch.setattr(report, "build", broken)
    settings = built.workspace.settings()
    with pytest.raises(RefreshFailed) as caught:
        refresh(settings, as_of=AS_OF)
    message = str(caught.value)
    assert message.splitlines()[0].startswith("the refresh stopped (step score_report_html)")
    assert "serving layer was updated by this run before the failure" in message
    assert "not updated" not in message


def test_flooded_landing_file_stops_the_run_before_dbt(workspace: Workspace) -> None:
    generate_landing(workspace.landing_dir, day_range=(0, 1), bad_row_share=0.6, seed=3)
    settings = workspace.settings()
    with pytest.raises(RefreshFailed) as caught:
        refresh(settings, as_of=AS_OF)
    message = str(caught.value)
    assert message.startswith("the refresh stopped (step landing): more than 20% of the rows of")
    assert "would be quarantined (the landing gate's limit" in message.splitlines()[0]
    # the gate's results are said once (not again under "Failed checks")
    assert message.count("would be quarantined (the landing gate's limit") == 1
    assert message.count("FAILED (BLOCKING)") == 1 and "Failed checks" not in message
    assert "Nothing was published" in message
    assert not settings.serving_dir.exists() or not any(settings.serving_dir.iterdir())


def test_unreadable_landing_file_is_named(workspace: Workspace) -> None:
    notes = workspace.landing_dir / "orders" / "notes.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("not a landing file", encoding="utf-8")
    with pytest.raises(RefreshFailed) as caught:
        refresh(workspace.settings(), as_of=AS_OF)
    message = str(caught.value)
    assert message.startswith(f"the refresh stopped (step landing): landing file {notes}: "
                              "unsupported file type .txt; the landing contract reads Parquet")
    assert "LandingFileError" not in message  # no class names (once doubled), no traceback
    assert message.count(f"landing file {notes}") == 1
    # no link to Data Docs that were never written
    assert "Quality page" not in message and "Data Docs" not in message and not (workspace.root / "gx_docs").exists()


def wait_for_dbt_build(proc: subprocess.Popen, deadline_s: float = 240) -> None:
    """Block until ``proc`` has started ``dbt build`` (a child process)."""
    parent = psutil.Process(proc.pid)
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"leadscore run ended before dbt started: {proc.stdout.read()}")
        for child in parent.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "build" in child.cmdline() and any("dbt" in a for a in child.cmdline()[:2]):
                    return
        time.sleep(0.2)
    raise AssertionError("dbt build did not start")


def test_killed_refresh_leaves_serving_intact_and_next_run_recovers(built: Built) -> None:
    ws = built.workspace
    settings = ws.settings()
    before = published(ws.serving_dir)

    proc = subprocess.Popen(
        leadscore_command("run", "--as-of", AS_OF), env=ws.subprocess_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        wait_for_dbt_build(proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the refresh and its dbt child, mid-build
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert published(ws.serving_dir) == before
    assert len(pd.read_parquet(ws.serving_dir / serving.PARQUET_NAME)) == before[
        "manifest"]["row_counts"]["lead_scores"]

    # A new day of data arrives; a BI tool holds serving.duckdb open during the next refresh.
    generate_landing(ws.landing_dir, day_range=(DAYS - 1, DAYS))
    reader, stop = start_reader(ws.serving_dir / serving.DUCKDB_NAME, ws.root)
    try:
        result = refresh(settings, as_of="2024-07-02")  # returns: the reader does not block it
    finally:
        seen = stop_reader(reader, stop)
    assert set(seen) == {before["manifest"]["row_counts"]["lead_scores"]}  # reader never broke

    after = serving.read_manifest(ws.serving_dir)
    assert after["run_id"] == result.run_id != before["manifest"]["run_id"]
    # the summary counts this run's load, not the history's
    summary = result.summary
    assert summary["load"]["rows"] == result.load.total_rows > 0
    assert summary["load"]["files"] == len(result.load.files) == 3  # one day: 3 entities
    this_batch = query_one(settings, "select count(*) from quarantine.quarantined_rows "
                           "where batch_id = ?", [result.load.batch_id])
    assert summary["quarantine"]["this_run_rows"] == this_batch
    assert summary["quarantine"]["all_time_rows"] == warehouse_count(
        settings, "quarantine.quarantined_rows") > this_batch
    assert summary["leads"]["previous_as_of"] == before["manifest"]["as_of"]
    assert summary["leads"]["new_since_last_publication"] == query_one(
        settings, "select count(*) from marts.lead_scores where previous_as_of is null")
    movers = summary["leads"]["score_movers"]
    assert movers and movers == sorted(movers, key=lambda m: -abs(m["score_change"]))
    assert "since the last published run (as_of " in result.report
    assert after["as_of"] == "2024-07-02 00:00:00"
    assert result.load.total_rows > 0 and all(c.passed for c in result.checks)
    assert after["row_counts"]["lead_score_history"] > before["manifest"]["row_counts"][
        "lead_score_history"]
    with contextlib.closing(duckdb.connect(
            str(ws.serving_dir / serving.DUCKDB_NAME), read_only=True)) as con:
        assert con.execute("select max(as_of) from lead_scores").fetchone()[0] == pd.Timestamp(
            "2024-07-02")


def test_the_sensor_requests_no_run_after_a_refresh_loaded_the_files(built: Built) -> None:
    """Opening the UI after `make run`: the sensor's first tick finds nothing new."""
    import dagster as dg

    from orchestration import definitions

    with patched_environ(built.workspace.env):
        tick = definitions.new_landing_files(
            dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral()))
    assert isinstance(tick, dg.SensorResult) and not tick.run_requests
    assert "no new landing files" in tick.skip_reason.skip_message


# ------------------------------------------- a run that finds nothing publishes nothing


def test_a_missing_landing_folder_is_an_error_naming_it(workspace: Workspace) -> None:
    missing = workspace.root / "landnig"  # a mistyped LEADSCORE_LANDING_DIR
    env = workspace.subprocess_env(LEADSCORE_LANDING_DIR=str(missing))
    for args in (("run",), ("run", "--demo-if-empty")):  # the demo is for data/landing only
        started = time.monotonic()
        proc = subprocess.run(leadscore_command(*args, "--as-of", AS_OF), env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        (line,) = [x for x in proc.stderr.splitlines() if x.startswith("leadscore")]
        assert line.startswith(f"leadscore: error: landing folder {missing} does not exist")
        assert "LEADSCORE_LANDING_DIR" in line and "error" not in line[len("leadscore: error:"):]
        assert time.monotonic() - started < 60  # said before any work
        assert not missing.exists() and not workspace.serving_dir.exists()


def test_a_refresh_that_finds_nothing_keeps_the_published_version(
    built: Built, workspace: Workspace
) -> None:
    # a copy of the published shop whose landing folder is (mistakenly) empty: full refresh
    source = built.workspace
    shutil.copy2(source.settings().duckdb_path, workspace.settings().duckdb_path)
    shutil.copytree(source.serving_dir, workspace.serving_dir)
    workspace.landing_dir.mkdir()
    settings = workspace.settings()
    before = published(settings.serving_dir)
    with pytest.raises(RefreshFailed) as caught:
        refresh(settings, as_of=AS_OF, full_refresh=True)
    message = str(caught.value)
    assert message.startswith("the refresh stopped (step serving_export): ")
    assert "PublishRefused" not in message  # a message for users, without a class name
    assert "marts.lead_scores has no leads" in message and str(settings.landing_dir) in message
    assert "serving layer was not updated" in message
    assert published(settings.serving_dir) == before


def test_the_first_publication_has_an_as_of_even_when_empty(workspace: Workspace) -> None:
    workspace.landing_dir.mkdir()  # an empty shop: nothing to score yet, but it is on time
    result = refresh(workspace.settings())  # as_of: the run's start
    manifest = serving.read_manifest(workspace.serving_dir)
    assert manifest["row_counts"]["lead_scores"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", manifest["as_of"] or "")
    assert f"as_of {manifest['as_of']}" in result.report
