"""The Dagster instance leadscore writes runs to: its dagster.yaml and its event log."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration import dagster_instance
from orchestration.bench_dagster import _job
from orchestration.dagster_instance import DAGSTER_YAML, LeadscoreSqliteEventLogStorage, ensure_dagster_home


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    ensure_dagster_home(tmp_path)
    return tmp_path


def test_runs_recorded_with_leadscore_storage_read_back_in_a_new_instance(home):
    job = _job(assets=3, checks=5)
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, LeadscoreSqliteEventLogStorage)
        result = job.execute_in_process(instance=instance)
        assert result.success
        run_id = result.run_id
    # the files are Dagster's own layout: a default instance (as the UI of an older
    # version, or one whose dagster.yaml is not ours) reads the same run
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    with dg.DagsterInstance.from_config(str(home)) as plain:
        assert not isinstance(plain.event_log_storage, LeadscoreSqliteEventLogStorage)
        records = plain.get_records_for_run(run_id).records
        kinds = [r.event_log_entry.dagster_event_type for r in records
                 if r.event_log_entry.dagster_event is not None]
        assert kinds.count(dg.DagsterEventType.ASSET_MATERIALIZATION) == 3
        assert kinds.count(dg.DagsterEventType.ASSET_CHECK_EVALUATION) == 5
        latest = plain.get_latest_materialization_event(dg.AssetKey("asset_2"))
        assert latest is not None and latest.run_id == run_id
        (run,) = plain.get_runs()
        assert run.run_id == run_id


def test_many_runs_keep_a_bounded_number_of_engines(home, monkeypatch):
    monkeypatch.setattr(dagster_instance, "ENGINES_KEPT", 2)
    job = _job(assets=1, checks=1)
    with dg.DagsterInstance.get() as instance:
        run_ids = [job.execute_in_process(instance=instance).run_id for _ in range(4)]
        storage = instance.event_log_storage
        assert len(storage._engines) <= 2
        # runs whose engine was let go still read back
        for run_id in run_ids:
            assert storage.get_records_for_run(run_id).records


def test_wipe_disposes_engines_and_the_instance_keeps_working(home):
    job = _job(assets=1, checks=1)
    with dg.DagsterInstance.get() as instance:
        job.execute_in_process(instance=instance)
        first = instance.get_runs()[0].run_id
        instance.event_log_storage.wipe()
        # the run shards' files are deleted: no engine of theirs outlives them
        assert set(instance.event_log_storage._engines) <= {"index"}
        assert not instance.event_log_storage.get_records_for_run(first).records
        again = job.execute_in_process(instance=instance)
        assert instance.event_log_storage.get_records_for_run(again.run_id).records


def test_dagster_yaml_written_upgraded_or_left_alone(tmp_path):
    config = ensure_dagster_home(tmp_path / "new")
    assert config.read_text(encoding="utf-8") == DAGSTER_YAML
    older = tmp_path / "older"
    older.mkdir()
    (older / "dagster.yaml").write_text(
        "# Written by leadscore: no telemetry; UI, schedule and sensor runs queue one at a time.\n"
        "telemetry:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: 1\n", encoding="utf-8")
    assert ensure_dagster_home(older).read_text(encoding="utf-8") == DAGSTER_YAML
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "dagster.yaml").write_text("telemetry:\n  enabled: true\n", encoding="utf-8")
    assert ensure_dagster_home(theirs).read_text(encoding="utf-8") == "telemetry:\n  enabled: true\n"
