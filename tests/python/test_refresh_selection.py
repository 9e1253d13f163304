"""A refresh with nothing new skips what did not change (orchestration/refresh_selection.py):
seeds whose file and config are unchanged since they were loaded are not reloaded, and the
data tests whose inputs did not change since they passed are not run
(LEADSCORE_REFRESH_TESTS=changed, the default).

The unit tests build small manifests over a temporary project folder; the end-to-end tests
refresh the session's warehouse (``built``) and read dbt's run_results.json of the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from pathlib import Path

import duckdb
import pytest
from fixtures_orchestration import (  # noqa: F401  (fixtures)
    AS_OF,
    DAYS,
    Built,
    Workspace,
    built,
    generate_landing,
    orchestration_session,
    patched_environ,
    workspace,
)

from orchestration import pipeline, refresh_selection
from orchestration.config import PROJECT_ROOT, Settings
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


@pytest.mark.parametrize("value", ["changed", "all", "ALL"])
def test_tests_setting_accepts_its_values(value: str) -> None:
    with patched_environ({refresh_selection.TESTS_ENV: value}):
        assert Settings.from_env().refresh_tests == value.lower()


def test_tests_setting_names_the_variable_when_wrong() -> None:
    with patched_environ({refresh_selection.TESTS_ENV: "some"}):
        with pytest.raises(ValueError, match="LEADSCORE_REFRESH_TESTS must be one of changed, all"):
            Settings.from_env()


# ------------------------------------------------------------- data tests (unit)


def _test(name: str, parents: list[str], **extra: object) -> dict:
    return {"resource_type": "test", "name": name, "config": {"severity": "error"},
            "depends_on": {"nodes": parents, "macros": []},
            "test_metadata": {"name": "not_null", "kwargs": {}}, **extra}


def _model(name: str, parents: list[str], materialized: str) -> dict:
    return {"resource_type": "model", "name": name, "config": {"materialized": materialized},
            "raw_code": f"select * from {parents}", "checksum": {"checksum": name},
            "depends_on": {"nodes": parents, "macros": []}}


def _event_manifest() -> dict:
    """landing.events -> stg (incremental) -> scores (table); a seed; tests on each."""
    return {
        "sources": {"source.p.landing.events": {"source_name": "landing", "name": "events"},
                    "source.p.predictive.lead_predictions": {"source_name": "predictive",
                                                             "name": "lead_predictions"}},
        "macros": {},
        "nodes": {
            "seed.p.grades": _seed("grades"),
            "model.p.stg": _model("stg", ["source.p.landing.events"], "incremental"),
            "model.p.scores": _model("scores", ["model.p.stg"], "table"),
            "model.p.predictions": _model("predictions", ["source.p.predictive.lead_predictions"],
                                          "incremental"),
            "test.p.on_seed": _test("on_seed", ["seed.p.grades"]),
            "test.p.on_stg": _test("on_stg", ["model.p.stg"]),
            "test.p.stg_to_seed": _test("stg_to_seed", ["model.p.stg", "seed.p.grades"]),
            "test.p.on_scores": _test("on_scores", ["model.p.scores"]),
            "test.p.on_predictions": _test("on_predictions", ["model.p.predictions"]),
            "test.p.at_as_of": _test("at_as_of", ["model.p.stg"],
                                     raw_code="select * from x where d < {{ as_of() }}"),
        },
    }


def _passed(con: duckdb.DuckDBPyConnection, plan: refresh_selection.Plan,
            failed: tuple[str, ...] = ()) -> None:
    refresh_selection.record(con, plan, [
        {"unique_id": uid, "status": "fail" if uid in failed else "pass"}
        for uid in plan.names if uid.startswith("test.") and uid not in plan.skipped_tests])


def test_only_tests_whose_inputs_changed_since_they_passed_run(tmp_path: Path) -> None:
    _project(tmp_path, {"grades": "grade\nA\n"})
    manifest = _event_manifest()
    con = duckdb.connect()
    con.execute("create schema landing")
    con.execute("create table landing.events as select 1 as _batch_id")

    def plan(tests: str = "changed") -> refresh_selection.Plan:
        return refresh_selection.plan(con, manifest, tests=tests, project_root=tmp_path)

    first = plan()
    assert first.skipped_tests == set()  # nothing passed yet
    _passed(con, first, failed=("test.p.stg_to_seed",))
    # nothing new: the tests of the seed and of the incremental path are not run; those of
    # a table model, of a model fed by another step and of as_of always run; a failed one too
    stable = {"test.p.on_seed", "test.p.on_stg"}
    assert plan().skipped_tests == stable
    assert plan("all").skipped_tests == set()
    assert {"--exclude", "on_seed on_stg"} <= set(plan().exclude_args(manifest["nodes"]))
    _passed(con, plan())
    assert plan().skipped_tests == stable | {"test.p.stg_to_seed"}
    # new landing rows: the event path's tests run again, the seed's do not
    con.execute("insert into landing.events values (2)")
    assert plan().skipped_tests == {"test.p.on_seed"}
    _passed(con, plan())
    # rows deleted (an erasure, a prune) count as a change as well
    con.execute("delete from landing.events where _batch_id = 1")
    assert plan().skipped_tests == {"test.p.on_seed"}
    _passed(con, plan())
    # an edited seed: its tests and the tests reading it run
    (tmp_path / "seeds" / "grades.csv").write_text("grade\nB\n", encoding="utf-8")
    assert plan().skipped_tests == {"test.p.on_stg"}
    _passed(con, plan())
    # an edited test or model definition
    manifest["nodes"]["test.p.on_stg"]["config"]["where"] = "x > 1"
    manifest["nodes"]["model.p.stg"]["raw_code"] += " -- edited"
    assert plan().skipped_tests == {"test.p.on_seed"}
    _passed(con, plan())
    # an erasure forgets what passed
    refresh_selection.forget_verified_tests(con)
    assert plan().skipped_tests == set()


def test_a_marked_test_reads_only_the_batches_since_it_last_passed(tmp_path: Path) -> None:
    _project(tmp_path, {})
    scoped = _test("unique_stg_id", ["model.p.stg"], attached_node="model.p.stg",
                   config={"severity": "error", "where": "_processed_batch > __verified_batch__"})
    stg = {**_model("stg", ["source.p.landing.events"], "incremental"),
           "schema": "staging", "alias": "stg"}
    manifest = {"sources": {"source.p.landing.events": {"source_name": "landing", "name": "events",
                                                        "schema": "landing", "identifier": "events"}},
                "macros": {}, "nodes": {"model.p.stg": stg, "test.p.unique_stg_id": scoped}}
    con = duckdb.connect()
    con.execute("create schema landing")
    con.execute("create table landing.events as select 1 as _batch_id")
    con.execute("create schema staging")
    con.execute("create table staging.stg as select 1 as _processed_batch")

    def plan(tests: str = "changed") -> refresh_selection.Plan:
        return refresh_selection.plan(con, manifest, tests=tests, project_root=tmp_path)

    def scopes_for_dbt(current: refresh_selection.Plan) -> list[tuple]:
        refresh_selection.write_scopes(con, current)
        return con.execute(f"select * from {refresh_selection.SCOPE_TABLE}").fetchall()

    first = plan()
    assert first.scoped_tests["test.p.unique_stg_id"][:2] == ("staging.stg", "_processed_batch")
    assert first.scopes == {} and scopes_for_dbt(first) == []  # never passed: every row
    _passed(con, first)
    con.execute("insert into landing.events values (2)")
    con.execute("insert into staging.stg values (2)")
    second = plan()
    assert second.scopes == {"test.p.unique_stg_id": 1}  # the rows after batch 1
    assert scopes_for_dbt(second) == [("test.p.unique_stg_id", 1)]
    _passed(con, second)
    assert plan().scopes == {"test.p.unique_stg_id": 2}
    assert plan("all").scopes == {}  # LEADSCORE_REFRESH_TESTS=all: every row
    # a failure is forgotten: the next run reads every row again
    con.execute("insert into landing.events values (3)")
    _passed(con, plan(), failed=("test.p.unique_stg_id",))
    assert plan().scopes == {}
    _passed(con, plan())
    # so is one in a run without a plan (a full refresh)
    refresh_selection.record(con, refresh_selection.disabled("full refresh"),
                             [{"unique_id": "test.p.unique_stg_id", "status": "fail"}])
    assert plan().scopes == {}
    _passed(con, plan())
    # an edited model it reads (or an edited test): every row again
    stg["raw_code"] += " -- edited"
    assert plan().scopes == {}
    _passed(con, plan())
    assert plan().scopes == {"test.p.unique_stg_id": 2}
    # a full refresh reads every row, and what passed in it is recorded
    con.execute("insert into staging.stg values (4)")
    full = refresh_selection.everything(plan(), "full refresh")
    assert full.reason and full.scopes == {} and full.skipped_tests == set()
    _passed(con, full)
    assert plan().scopes == {"test.p.unique_stg_id": 4}
    # after the build nothing is left for a dbt build by hand
    refresh_selection.clear_scopes(con)
    assert con.execute(f"select count(*) from {refresh_selection.SCOPE_TABLE}").fetchone()[0] == 0


# ------------------------------------------------------------------------ end to end


def _run_results(run_id: str, step: str) -> list[dict]:
    """The results of one step's dbt build in a run (its run_results.json)."""
    target = Path(os.environ["DBT_TARGET_PATH"])
    [path] = list(target.glob(f"{step}-{run_id[:7]}-*/run_results.json"))
    return json.loads(path.read_text(encoding="utf-8"))["results"]


def _dbt_results(run_id: str, step: str = "dbt_models") -> dict[str, str]:
    """unique_id -> status of one step's dbt build in a run."""
    return {r["unique_id"]: r["status"] for r in _run_results(run_id, step)}


def _compiled(run_id: str, step: str = "dbt_models") -> dict[str, str]:
    """unique_id -> the SQL dbt ran, of one step's dbt build in a run."""
    return {r["unique_id"]: r.get("compiled_code") or "" for r in _run_results(run_id, step)}


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


def test_a_refresh_runs_the_tests_of_what_changed(built: Built, workspace: Workspace) -> None:
    """On a copy of the session's warehouse: nothing new, a new day, then every test."""
    import shutil

    source = built.workspace
    shutil.copytree(source.landing_dir, workspace.landing_dir)  # copy2: same mtimes
    shutil.copytree(source.serving_dir, workspace.serving_dir)
    shutil.copy2(source.settings().duckdb_path, workspace.settings().duckdb_path)
    settings = workspace.settings()
    defined = assets_test_count()
    on_seed = "test.leadscore.unique_fit_grades_fit_grade.8ab36bcfe4"
    on_events = "test.leadscore.unique_int_events_sessionized_event_id.c349755d91"
    on_staged = "test.leadscore.unique_stg_landing__events_event_id.266f9bc05a"
    on_mart = "test.leadscore.unique_lead_scores_lead_id.a115cf6fa2"

    quiet = refresh(settings, as_of=AS_OF)  # what the copy's last run verified stands
    quiet = refresh(settings, as_of=AS_OF)
    ran = {**_dbt_results(quiet.run_id), **_dbt_results(quiet.run_id, "dbt_marts")}
    assert on_mart in ran and ran[on_mart] == "pass"
    assert on_seed not in ran and on_events not in ran and on_staged not in ran
    tests = quiet.summary["checks"]["dbt_tests"]
    assert tests["run"] == len([uid for uid in ran if uid.startswith("test.")]) > 0
    assert tests["not_run"] > 0 and tests["run"] + tests["not_run"] == tests["defined"] == defined
    assert tests["failed"] == [] and all(c.passed for c in quiet.checks)
    assert f"{tests['not_run']:,} of {defined:,} not run: nothing they read changed" in quiet.report
    not_run = [c for c in quiet.checks if c.metadata.get("dbt_test_run") is False]
    assert len(not_run) == tests["not_run"]
    assert "Not run by this refresh" in not_run[0].description

    generate_landing(settings.landing_dir, day_range=(DAYS - 1, DAYS))  # new events
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        verified = con.execute("select max(_processed_batch) from staging.stg_landing__events").fetchone()[0]
    fresh = refresh(settings, as_of=AS_OF)
    ran = _dbt_results(fresh.run_id)
    assert fresh.load.total_rows > 0
    assert ran[on_events] == "pass" and ran[on_staged] == "pass" and on_seed not in ran
    # the event path's uniqueness read only the rows loaded since it last passed
    compiled = _compiled(fresh.run_id)
    assert f"_processed_batch > {verified}" in compiled[on_staged]
    assert "__verified_batch__" not in compiled[on_events] and "_processed_batch >" in compiled[on_events]
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        assert con.execute(f"select count(*) from {refresh_selection.SCOPE_TABLE}").fetchone()[0] == 0

    every = refresh(dataclasses.replace(settings, refresh_tests="all"), as_of=AS_OF)
    ran = {**_dbt_results(every.run_id), **_dbt_results(every.run_id, "dbt_marts")}
    assert on_seed in ran and on_events in ran
    assert "_processed_batch >" not in _compiled(every.run_id)[on_staged]  # every row
    tests = every.summary["checks"]["dbt_tests"]
    assert tests["run"] == tests["passed"] == defined and tests["not_run"] == 0
    assert f"dbt tests: {defined:,} of {defined:,} passed" in every.report


def assets_test_count() -> int:
    from orchestration import assets

    return assets.dbt_data_test_count()



def test_nothing_is_skipped_on_spark_or_on_a_full_refresh(orchestration_session, tmp_path) -> None:
    """Spark keeps its seeds in its own warehouse, not in the DuckDB file the records are in."""
    from orchestration import assets

    settings = Settings.from_env({"duckdb_path": str(tmp_path / "w.duckdb")})
    spark = assets._refresh_plan(None, settings, assets.RefreshOptions(), on_spark=True)
    full = assets._refresh_plan(None, settings, assets.RefreshOptions(full_refresh=True),
                                on_spark=False)
    for plan in (spark, full):
        assert plan.reason and plan.exclude_args(["seed.leadscore.fit_grades"]) == []
    assert "Spark" in spark.reason
