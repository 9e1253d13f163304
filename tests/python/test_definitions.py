"""The Dagster code location: graph, checks, job, schedule and sensor (no run needed)."""

from __future__ import annotations

import json
import os
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
        key("marts/lead_score_history")}
    chain = upstream_closure(graph, key("serving_export"))
    assert {key("landing"), key("staging/stg_landing__events"), key("scores/engagement_scores"),
            key("marts/lead_scores"), key("rules/scoring_rules")} <= chain
    # the three landing sources are one asset, produced by the landing step
    assert not graph.get(key("landing")).is_external
    assert [k for k in graph.get_all_asset_keys() if k.path[0] == "landing"] == [key("landing")]


def test_groups_follow_the_layers(graph) -> None:
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups["landing"] == "landing"
    assert groups["staging/stg_landing__events"] == "staging"
    assert groups["scores/purchase_scores"] == "scores"
    assert groups["marts/lead_scores"] == "marts"
    assert groups["serving_export"] == "serving"


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


def test_refresh_job_covers_the_whole_graph_in_one_process(definitions: ModuleType, graph) -> None:
    job = definitions.defs.resolve_job_def("refresh")
    assert job.executor_def.name == "in_process"
    job_keys = job.asset_layer.executable_asset_keys
    assert {key("landing"), key("marts/lead_scores"), key("serving_export")} <= job_keys
    assert {k for k in graph.get_all_asset_keys() if graph.get(k).is_executable} <= job_keys


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


def test_sensor_fires_on_new_files_and_only_then(definitions: ModuleType, sensor_env: Workspace) -> None:
    landing = sensor_env.landing_dir

    assert isinstance(tick(definitions, None), dg.SkipReason)  # nothing there yet

    write(landing / "events" / "events_1.csv", "event_id\n1\n")
    first = tick(definitions, None)
    assert isinstance(first, dg.SensorResult) and len(first.run_requests) == 1
    assert json.loads(first.cursor) == {
        "events/events_1.csv": [11, os.stat(landing / "events" / "events_1.csv").st_mtime_ns]}

    again = tick(definitions, first.cursor)  # nothing new: no run
    assert isinstance(again, dg.SkipReason) and "no new landing files" in again.skip_message

    write(landing / "orders" / "orders_1.jsonl", '{"order_id": "o1"}\n')
    second = tick(definitions, first.cursor)
    assert isinstance(second, dg.SensorResult) and len(second.run_requests) == 1
    assert second.run_requests[0].run_key != first.run_requests[0].run_key
    assert isinstance(tick(definitions, second.cursor), dg.SkipReason)

    write(landing / "events" / "events_1.csv", "event_id\n1\n2\n")  # re-delivered, changed
    third = tick(definitions, second.cursor)
    assert isinstance(third, dg.SensorResult) and third.run_requests[0].tags[
        "leadscore/new_files"] == "1"

    write(landing / "events" / "_partial.csv", "still being copied")  # hidden: ignored
    assert isinstance(tick(definitions, third.cursor), dg.SkipReason)


def test_sensor_skips_with_the_reason_when_a_file_cannot_be_loaded(
    definitions: ModuleType, sensor_env: Workspace
) -> None:
    write(sensor_env.landing_dir / "events" / "notes.txt", "hello")
    result = tick(definitions, None)
    assert isinstance(result, dg.SkipReason) and "notes.txt" in result.skip_message
