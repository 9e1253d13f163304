"""target/ does not grow without limit: dagster-dbt's per-run folders are pruned."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
from fixtures_orchestration import (  # noqa: F401  (fixtures)
    Workspace,
    orchestration_session,
    workspace,
)


class FolderOnlyDbt(dg.ConfigurableResource):
    """Stands in for DbtCliResource: leaves a run folder in $DBT_TARGET_PATH the way
    dagster-dbt does (``<op>-<run id>-<uuid>``, its manifest, logs and compiled SQL) and
    runs nothing."""

    def cli(self, args: list[str], context: Any = None) -> Any:
        root = Path(os.environ["DBT_TARGET_PATH"])
        path = root / f"{context.op_execution_context.op.name}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"
        (path / "compiled").mkdir(parents=True)
        (path / "run_results.json").write_text("{}", encoding="utf-8")
        (path / "compiled" / "model.sql").write_text("select 1", encoding="utf-8")

        def stream() -> Iterator[Any]:
            yield from ()

        return SimpleNamespace(stream=stream, stream_raw_events=stream, target_path=path)


def test_only_the_last_runs_dbt_folders_are_kept(workspace: Workspace) -> None:
    from orchestration import assets

    target = workspace.root / "target"
    target.mkdir()
    (target / "manifest.json").write_text("{}", encoding="utf-8")  # not a run folder
    (target / "docs").mkdir()  # nor is `make docs`' output
    # the run's dbt target, as a workspace sets it (make_settings in warehouse_helpers)
    settings = dataclasses.replace(workspace.settings(LEADSCORE_DBT_RUNS_KEPT="2"),
                                   extra_env={"DBT_TARGET_PATH": str(target)})
    instance = dg.DagsterInstance.ephemeral()
    runs = []
    for _ in range(4):
        result = dg.materialize(
            [assets.dbt_models],
            instance=instance,
            resources={"dbt": FolderOnlyDbt(), "warehouse": settings,
                       "options": assets.RefreshOptions(as_of="2024-07-01")},
        )
        assert result.success
        runs.append(result.run_id[:7])
    folders = sorted(p.name for p in target.iterdir() if p.is_dir() and p.name != "docs")
    assert len(folders) == 2, folders
    assert {name.split("-")[1] for name in folders} == set(runs[-2:])  # the newest two
    assert (target / "manifest.json").exists() and (target / "docs").is_dir()


def test_a_folder_in_use_by_another_build_is_not_pruned(tmp_path: Path) -> None:
    from orchestration.housekeeping import dbt_run_folders, run_folders

    def new_folder(name: str) -> None:
        (tmp_path / name).mkdir()
        (tmp_path / name / "dbt.log").write_text("...", encoding="utf-8")

    for name in ("dbt_models-aaaaaaa-0000001", "dbt_models-bbbbbbb-0000002"):
        new_folder(name)
    with dbt_run_folders(tmp_path, keep=1):  # a long build, still running
        new_folder("dbt_models-ccccccc-0000003")
        with dbt_run_folders(tmp_path, keep=1):  # a short one beside it: finds the other busy
            new_folder("dbt_models-ddddddd-0000004")
        assert len(run_folders(tmp_path)) == 4
    assert len(run_folders(tmp_path)) == 1  # the last build to finish prunes
