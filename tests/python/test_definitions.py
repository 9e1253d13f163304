"""The Dagster code location: graph, checks, job, schedule and sensor (no run needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import dagster as dg
import pytest
from fixtures_orchestration import (  # noqa: F401  (fixtures)
    Workspace,
    orchestration_session,
    patched_environ,
    workspace,
)


@pytest.fixture(scope="module")
def definitions(orchestration_session: Path) -> ModuleType:
    """The code location (loading it parses the dbt project into the session's target)."""
    from orchestration import definitions as module

    return module


@pytest.fixture(scope="module")
def graph(definitions: ModuleType):
    return definitions.defs.resolve_asset_graph()


def key(text: str) -> dg.AssetKey:
    return dg.AssetKey.from_user_string(text)


def upstream_closure(graph, start: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    todo = [start]
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_code_location_loads(definitions: ModuleType) -> None:
    dg.Definitions.validate_loadable(definitions.defs)


def test_graph_runs_landing_staging_scores_mart_serving(graph) -> None:
    assert graph.get(key("staging/base_landing__events")).parent_keys >= {key("landing")}
    assert key("landing") in upstream_closure(graph, key("staging/stg_landing__orders"))
    assert graph.get(key("serving_export")).parent_keys == {
        key("marts/lead_scores"), key("marts/lead_category_interest"),
        key("marts/lead_score_history"), key("marts/campaign_audiences"),
        key("marts/campaign_results")}
    chain = upstream_closure(graph, key("serving_export"))
    assert {key("landing"), key("staging/stg_landing__events"), key("scores/engagement_scores"),
            key("marts/lead_scores"), key("rules/scoring_rules")} <= chain
    # the predictive step sits between the two dbt steps: after the features, before the
    # model that reads its table (and so before the marts)
    assert graph.get(key("predictive/lead_predictions")).parent_keys >= {
        key("intermediate/int_lead_features")}
    assert key("predictive/lead_predictions") in graph.get(
        key("intermediate/int_lead_predictions")).parent_keys
    assert key("predictive/lead_predictions") in upstream_closure(graph, key("marts/lead_scores"))
    # the run's summary is written after the publication (it reports what was published)
    assert graph.get(key("run_summary")).parent_keys == {key("serving_export")}
    # the score report last: it shows what was published and the run summary's gates
    assert graph.get(key("score_report_html")).parent_keys == {key("run_summary")}
    # the three landing sources are one asset, produced by the landing step
    assert not graph.get(key("landing")).is_external
    assert [k for k in graph.get_all_asset_keys() if k.path[0] == "landing"] == [key("landing")]


def test_groups_follow_the_layers(graph) -> None:
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups["landing"] == "landing"
    assert groups["staging/stg_landing__events"] == "staging"
    assert groups["scores/purchase_scores"] == "scores"
    assert groups["marts/lead_scores"] == "marts"
    assert groups["serving_export"] == groups["run_summary"] == "serving"
    assert groups["score_report_html"] == "serving"


def test_dbt_tests_are_checks_and_gx_checks_block(graph, definitions: ModuleType) -> None:
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("marts/lead_scores", "unique_lead_scores_lead_id") in checks
    assert ("marts/lead_scores", "gx_lead_scores") in checks
    assert ("landing", "gx_landing_batches") in checks
    from orchestration import assets

    (mart_spec,) = assets.lead_scores_gx.check_specs
    assert mart_spec.blocking
    (landing_spec,) = assets.landing.check_specs
    assert landing_spec.blocking


def test_every_dbt_test_is_a_described_asset_check(graph, definitions: ModuleType) -> None:
    """Every dbt data test of the manifest (unit tests are not data tests) is an asset check
    with a description, so the UI's checks and the run summary's test count equal dbt's."""
    import json

    from dagster_dbt.asset_utils import DAGSTER_DBT_UNIQUE_ID_METADATA_KEY

    from orchestration import assets

    manifest = json.loads(assets.DBT_PROJECT.manifest_path.read_text(encoding="utf-8"))
    dbt_tests = {uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "test"}
    specs = [graph.get_check_spec(k) for k in graph.asset_check_keys]
    checks = {s.metadata[DAGSTER_DBT_UNIQUE_ID_METADATA_KEY]: s for s in specs
              if DAGSTER_DBT_UNIQUE_ID_METADATA_KEY in s.metadata}
    assert sorted(dbt_tests - set(checks)) == []  # e.g. the accounting and singular rule tests
    assert len(checks) == len(dbt_tests) > 300
    assert assets.dbt_data_test_count() == len(dbt_tests)
    undescribed = sorted(uid for uid, spec in checks.items() if not (spec.description or "").strip())
    assert undescribed == []
    # the tests that read several models sit on the model they guard, described in words
    by_name = {spec.name: spec for spec in checks.values()}
    accounting = next(s for n, s in by_name.items() if n.startswith("source_rows_accounted_for_landing_events"))
    assert accounting.asset_key == key("staging/stg_landing__events")
    assert "quarantine" in accounting.description
    contributions = by_name["assert_score_contributions_add_up_to_the_score"]
    assert contributions.asset_key == key("intermediate/int_lead_rule_contributions")
    assert contributions.description.startswith("Two computations of the same score must agree")
    assert by_name["assert_rule_references_are_known"].asset_key == key("rules/scoring_rules")
    assert "never null" in by_name["not_null_lead_scores_lead_id"].description


def test_refresh_job_covers_the_whole_graph_in_one_process(definitions: ModuleType, graph) -> None:
    job = definitions.defs.resolve_job_def("refresh")
    assert job.executor_def.name == "in_process"
    job_keys = job.asset_layer.executable_asset_keys
    assert {key("landing"), key("marts/lead_scores"), key("serving_export")} <= job_keys
    executable = {k for k in graph.get_all_asset_keys() if graph.get(k).is_executable}
    # everything but the model, which the weekly `train` job retrains
    assert executable - {key("predictive/purchase_model")} <= job_keys


def test_schedule_targets_the_refresh_job(definitions: ModuleType) -> None:
    schedule = definitions.defs.resolve_schedule_def("daily_refresh")
    assert schedule.job_name == "refresh"
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 5 * * *", "UTC")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_schedule_reads_cron_and_timezone_from_the_environment(definitions: ModuleType) -> None:
    with patched_environ({"LEADSCORE_SCHEDULE_CRON": "30 6 * * 1-5",
                          "LEADSCORE_SCHEDULE_TIMEZONE": "Europe/Berlin"}):
        schedule = definitions.build_schedule()
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 6 * * 1-5",
                                                                     "Europe/Berlin")
    assert schedule.job_name == "refresh"


# ------------------------------------------------------------------------------ sensor


@pytest.fixture
def sensor_env(workspace: Workspace) -> Iterator[Workspace]:
    with patched_environ(workspace.env):
        yield workspace


def tick(definitions: ModuleType, cursor: str | None):
    context = dg.build_sensor_context(cursor=cursor, instance=dg.DagsterInstance.ephemeral())
    return definitions.new_landing_files(context)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def skip_message(result) -> str | None:
    """The skip reason of a tick, None when it requested a run."""
    if isinstance(result, dg.SkipReason):
        return result.skip_message
    assert isinstance(result, dg.SensorResult)
    if result.run_requests:
        return None
    return result.skip_reason.skip_message


EVENTS = "event_id,occurred_at,lead_id,anonymous_id,event_type\n"


def test_sensor_judges_new_files_by_the_loaders_manifest(
    definitions: ModuleType, sensor_env: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration import landing, pipeline

    files = sensor_env.landing_dir
    settings = sensor_env.settings()
    files.mkdir()
    assert "no new landing files" in skip_message(tick(definitions, None))  # nothing there yet

    events = files / "events" / "events_1.csv"
    write(events, EVENTS + "e1,2024-06-01T10:00:00Z,L1,,page_view\n")
    first = tick(definitions, None)
    assert skip_message(first) is None and len(first.run_requests) == 1
    # until a load has taken it, the file stays new: the same run key (Dagster runs it once)
    assert tick(definitions, first.cursor).run_requests[0].run_key == first.run_requests[0].run_key

    pipeline.load_landing(settings)  # what the refresh it started does first
    for cursor in (first.cursor, None):  # None: a sensor that never ticked (a new UI)
        assert "no new landing files" in skip_message(tick(definitions, cursor))

    orders = files / "orders" / "orders_1.jsonl"
    write(orders, '{"order_id": "o1", "lead_id": "L1", "ordered_at": "2024-06-01", "amount": 5}\n')
    second = tick(definitions, None)
    assert skip_message(second) is None
    assert second.run_requests[0].tags["leadscore/new_files"] == "1"
    assert second.run_requests[0].run_key != first.run_requests[0].run_key
    pipeline.load_landing(settings)

    # a file the manifest knows with the same path, size and time is never read again
    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path} was hashed")

    with monkeypatch.context() as patch:
        patch.setattr(landing, "_sha256", no_hashing)
        assert skip_message(tick(definitions, None)) is not None

    # touched, same content (e.g. copied again): hashed once, not new
    stat = events.stat()
    os.utime(events, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    touched = tick(definitions, None)
    assert "no new landing files" in skip_message(touched)
    with monkeypatch.context() as patch:  # the next tick takes the hash from its cursor
        patch.setattr(landing, "_sha256", no_hashing)
        assert skip_message(tick(definitions, touched.cursor)) is not None

    write(events, EVENTS + "e1,2024-06-01T10:00:00Z,L1,,page_view\ne2,2024-06-01T11:00:00Z,L1,,login\n")
    changed = tick(definitions, touched.cursor)  # re-delivered with new content
    assert skip_message(changed) is None
    assert changed.run_requests[0].tags["leadscore/new_files"] == "1"
    pipeline.load_landing(settings)
    assert skip_message(tick(definitions, changed.cursor)) is not None

    write(files / "events" / "_partial.csv", "still being copied")  # hidden: ignored
    assert skip_message(tick(definitions, None)) is not None


HOLD_WRITER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
time.sleep(120)
"""


def test_sensor_skips_the_tick_while_the_warehouse_is_being_written(
    definitions: ModuleType, sensor_env: Workspace
) -> None:
    from orchestration import pipeline

    settings = sensor_env.settings()
    write(sensor_env.landing_dir / "events" / "events_1.csv",
          EVENTS + "e1,2024-06-01T10:00:00Z,L1,,page_view\n")
    pipeline.load_landing(settings)
    with pipeline.refresh_lock(settings):  # a refresh runs: it will load the files itself
        message = skip_message(tick(definitions, None))
    assert message and "refresh" in message and "is running" in message
    assert "next tick" in message

    # another process writes the warehouse (DuckDB's own lock): skip, do not fail
    writer = subprocess.Popen([sys.executable, "-c", HOLD_WRITER, str(settings.duckdb_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        message = skip_message(tick(definitions, None))
    finally:
        writer.kill()
        writer.wait()
    assert message and "cannot be opened read-only" in message
    assert str(settings.duckdb_path) in message


def test_sensor_skips_with_the_reason_when_a_file_cannot_be_loaded(
    definitions: ModuleType, sensor_env: Workspace
) -> None:
    write(sensor_env.landing_dir / "events" / "notes.txt", "hello")
    result = tick(definitions, None)
    assert isinstance(result, dg.SkipReason) and "notes.txt" in result.skip_message


# ------------------------------------------------------------- predictive training


def test_the_weekly_schedule_targets_training_only(definitions: ModuleType) -> None:
    schedule = definitions.defs.resolve_schedule_def("weekly_training")
    assert schedule.job_name == "train"
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 4 * * 1", "UTC")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    train = definitions.defs.resolve_job_def("train")
    assert train.asset_layer.executable_asset_keys == {key("predictive/purchase_model")}
    # the daily refresh does not retrain: it is not in the refresh job
    refresh = definitions.defs.resolve_job_def("refresh")
    assert key("predictive/purchase_model") not in refresh.asset_layer.executable_asset_keys
    with patched_environ({"LEADSCORE_TRAINING_CRON": "0 3 * * 0"}):
        assert definitions.build_training_schedule().cron_schedule == "0 3 * * 0"


def test_the_model_is_trained_on_the_features_the_scores_use(graph) -> None:
    model = graph.get(key("predictive/purchase_model"))
    assert model.parent_keys == {key("intermediate/int_lead_features")}
    assert model.group_name == "predictive"
