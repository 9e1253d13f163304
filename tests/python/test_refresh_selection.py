"""A refresh with nothing new skips what did not change (orchestration/refresh_selection.py):
seeds whose file and config are unchanged since they were loaded are not reloaded.

The unit tests build small manifests over a temporary project folder; the end-to-end tests
refresh the session's warehouse (``built``) and read dbt's run_results.json of the run.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import duckdb
import pytest
from fixtures_orchestration import (  # noqa: F401  (fixtures)
    AS_OF,
    Built,
    built,
    orchestration_session,
)

from orchestration import pipeline, refresh_selection
from orchestration.config import PROJECT_ROOT
from orchestration.refresh import refresh

# ------------------------------------------------------------------------------ unit


def _seed(name: str, schema: str = "rules", **config: object) -> dict:
    return {"resource_type": "seed", "name": name, "schema": schema, "alias": name,
            "original_file_path": f"seeds/{name}.csv", "config": {"column_types": {}, **config},
            "depends_on": {"nodes": [], "macros": []}}


def _project(root: Path, seeds: dict[str, str]) -> None:
    (root / "seeds").mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text("name: x\n", encoding="utf-8")
    for name, content in seeds.items():
        (root / "seeds" / f"{name}.csv").write_text(content, encoding="utf-8")


def _loaded(con: duckdb.DuckDBPyConnection, plan: refresh_selection.Plan) -> None:
    """What a dbt build that loaded every planned seed leaves behind."""
    for uid, node_name in plan.names.items():
        if uid.startswith("seed."):
            con.execute("create schema if not exists rules")
            con.execute(f"create or replace table rules.{node_name} as select 1 as x")
    refresh_selection.record(con, plan, [{"unique_id": uid, "status": "success"}
                                         for uid in plan.names if uid.startswith("seed.")])


def test_a_seed_is_reloaded_only_when_its_file_config_or_table_changed(tmp_path: Path) -> None:
    _project(tmp_path, {"grades": "grade,points\nA,10\n", "bands": "band\nx\n"})
    manifest = {"nodes": {"seed.p.grades": _seed("grades"), "seed.p.bands": _seed("bands")}}
    con = duckdb.connect()

    def skipped() -> set[str]:
        return refresh_selection.plan(con, manifest, tests="all",
                                      project_root=tmp_path).skipped_seeds

    assert skipped() == set()  # never loaded into this warehouse
    _loaded(con, refresh_selection.plan(con, manifest, tests="all", project_root=tmp_path))
    assert skipped() == {"seed.p.grades", "seed.p.bands"}
    # an edited file is loaded again (and only that seed)
    (tmp_path / "seeds" / "grades.csv").write_text("grade,points\nA,12\n", encoding="utf-8")
    assert skipped() == {"seed.p.bands"}
    _loaded(con, refresh_selection.plan(con, manifest, tests="all", project_root=tmp_path))
    assert skipped() == {"seed.p.grades", "seed.p.bands"}
    # its YAML config (column_types) changed
    manifest["nodes"]["seed.p.bands"]["config"]["column_types"] = {"band": "string"}
    assert skipped() == {"seed.p.grades"}
    _loaded(con, refresh_selection.plan(con, manifest, tests="all", project_root=tmp_path))
    # dbt_project.yml (seed defaults, vars) changed: every seed loads
    (tmp_path / "dbt_project.yml").write_text("name: x\nvars: {a: 1}\n", encoding="utf-8")
    assert skipped() == set()
    _loaded(con, refresh_selection.plan(con, manifest, tests="all", project_root=tmp_path))
    # the table is gone from the warehouse
    con.execute("drop table rules.bands")
    assert skipped() == {"seed.p.grades"}


def test_a_seed_whose_tests_did_not_pass_is_loaded_again(tmp_path: Path) -> None:
    _project(tmp_path, {"grades": "grade\nA\n"})
    test = {"resource_type": "test", "name": "unique_grades_grade", "config": {},
            "depends_on": {"nodes": ["seed.p.grades"], "macros": []},
            "test_metadata": {"name": "unique", "kwargs": {}}}
    manifest = {"nodes": {"seed.p.grades": _seed("grades"), "test.p.unique_grades_grade": test}}
    con = duckdb.connect()
    con.execute("create schema rules")
    con.execute("create table rules.grades as select 'A' as grade")
    plan = refresh_selection.plan(con, manifest, tests="all", project_root=tmp_path)
    refresh_selection.record(con, plan, [
        {"unique_id": "seed.p.grades", "status": "success"},
        {"unique_id": "test.p.unique_grades_grade", "status": "fail"}])
    again = refresh_selection.plan(con, manifest, tests="all", project_root=tmp_path)
    assert again.skipped_seeds == set()


def test_exclusions_name_the_skipped_nodes_and_keep_other_tests() -> None:
    plan = refresh_selection.Plan(names={"seed.p.a": "a", "model.p.b": "b"},
                                  skipped_seeds={"seed.p.a"})
    assert plan.exclude_args(plan.names) == ["--indirect-selection", "empty", "--exclude", "a"]
    assert refresh_selection.Plan().exclude_args({"seed.p.a": "a"}) == []


# ------------------------------------------------------------------------ end to end


def _dbt_results(run_id: str, step: str = "dbt_models") -> dict[str, str]:
    """unique_id -> status of one step's dbt build in a run (its run_results.json)."""
    target = Path(os.environ["DBT_TARGET_PATH"])
    [path] = list(target.glob(f"{step}-{run_id[:7]}-*/run_results.json"))
    return {r["unique_id"]: r["status"]
            for r in json.loads(path.read_text(encoding="utf-8"))["results"]}


def _execute(settings, sql: str) -> None:
    with contextlib.closing(pipeline.connect(settings)) as con:
        con.execute(sql)


def _count(settings, relation: str) -> int:
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        return con.execute(f"select count(*) from {relation}").fetchone()[0]


def test_a_refresh_reloads_only_the_seeds_that_changed(built: Built) -> None:
    settings = built.workspace.settings()
    # nothing changed: no seed is loaded, the run goes on to the marts and publishes
    unchanged = refresh(settings, as_of=AS_OF)
    ran = _dbt_results(unchanged.run_id)
    assert not [uid for uid in ran if uid.startswith("seed.")]
    assert any(uid.startswith("model.") for uid in ran)
    assert "dbt_marts" in unchanged.step_seconds and "serving_export" in unchanged.step_seconds
    # a seed whose recorded load differs from its file (as after an edit of the CSV) is
    # loaded again, with the file's values; one missing from the warehouse too
    rows = len((PROJECT_ROOT / "seeds/rules/fit_grades.csv").read_text().splitlines()) - 1
    _execute(settings, "update landing._seed_loads set fingerprint = 'edited' "
                       "where unique_id = 'seed.leadscore.fit_grades'")
    _execute(settings, "delete from rules.fit_grades")
    _execute(settings, "drop table reference.stores")
    edited = refresh(settings, as_of=AS_OF)
    ran = _dbt_results(edited.run_id)
    assert {uid for uid in ran if uid.startswith("seed.")} == {
        "seed.leadscore.fit_grades", "seed.leadscore.stores"}
    assert ran["seed.leadscore.fit_grades"] == "success"
    assert _count(settings, "rules.fit_grades") > 0 and _count(settings, "reference.stores") > 0
    assert _count(settings, "rules.fit_grades") == rows


def test_a_full_refresh_reloads_every_seed(built: Built) -> None:
    settings = built.workspace.settings()
    from orchestration import assets

    manifest = json.loads(assets.DBT_PROJECT.manifest_path.read_text(encoding="utf-8"))
    seeds = {uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "seed"}
    full = refresh(settings, as_of=AS_OF, full_refresh=True)
    assert {uid for uid in _dbt_results(full.run_id) if uid.startswith("seed.")} == seeds


@pytest.mark.parametrize("value", ["changed", "all", "ALL"])
def test_tests_mode_accepts_its_values(value: str) -> None:
    assert refresh_selection.tests_mode({refresh_selection.TESTS_ENV: value}) == value.lower()


def test_tests_mode_names_the_variable_when_wrong() -> None:
    with pytest.raises(ValueError, match="LEADSCORE_REFRESH_TESTS must be one of changed, all"):
        refresh_selection.tests_mode({refresh_selection.TESTS_ENV: "some"})
