"""The refresh as Dagster assets: landing -> dbt models (staging ... marts) -> serving.

- ``landing``: loads new landing files (:func:`orchestration.pipeline.load_landing`);
  the GX landing gate validates each entity's new rows before the load commits (the
  loader's ``inspect`` hook) and is reported as the blocking check ``landing/gx_landing_batches``.
- ``dbt_models``: every dbt seed and model (``@dbt_assets`` over the manifest); dbt's data
  tests become asset checks. The three ``landing`` sources map to the ``landing`` asset.
- ``marts/lead_scores`` check ``gx_lead_scores``: the GX mart suite, *blocking*: when it
  fails the serving export does not run and BI keeps the previous version.
- ``serving_export``: publishes the marts to ``$LEADSCORE_SERVING_DIR``.
- ``run_summary``: what this run did (:mod:`orchestration.run_summary`), written as
  ``run_summary.json`` beside the serving manifest.
- ``score_report_html``: the offline score report (:mod:`orchestration.report`),
  ``report/index.html`` in the serving folder, built from what was just published; its
  path is added to ``run_summary.json`` (``leadscore run`` prints it).

Each step reports its progress to :mod:`orchestration.progress` (the command line shows
it; without a reporter, as in UI runs, that is a no-op) and logs to Dagster's log.

The run's settings come from the ``warehouse`` resource, which also holds the refresh
lock for the whole run (the job runs its steps in one process).
"""

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from pydantic import Field

from orchestration import housekeeping, pipeline, progress, refresh_selection, run_summary, serving
from orchestration.config import PROJECT_ROOT, Settings
from orchestration.dbt_checks import data_test_ids, describe_test
from orchestration.landing import LandingFileError, LoadResult
from orchestration.quality import QualityGateFailed
from orchestration.quality.landing_suite import LandingGate
from orchestration.quality.mart_suite import validate_mart
from orchestration.predictive.refresh_step import PREDICTIONS_MODEL

LANDING_KEY = dg.AssetKey(["landing"])
LEAD_SCORES_KEY = dg.AssetKey(["marts", "lead_scores"])
SERVED_MARTS = [dg.AssetKey(["marts", name]) for name in [*serving.TABLES, *serving.OPTIONAL_TABLES]]
SERVING_KEY = dg.AssetKey(["serving_export"])
RUN_SUMMARY_KEY = dg.AssetKey(["run_summary"])
SCORE_REPORT_KEY = dg.AssetKey(["score_report_html"])
MODEL_KEY = dg.AssetKey(["predictive", "purchase_model"])
FEATURES_KEY = dg.AssetKey(["intermediate", "int_lead_features"])
LANDING_CHECK = "gx_landing_batches"
MART_CHECK = "gx_lead_scores"
DBT_BUILD_ARGS = ["build", "--exclude-resource-type", "unit_test"]  # unit tests: `make test`

# --------------------------------------------------------------------------- dbt project

#: Files whose change makes the dbt manifest stale.
_DBT_SOURCES = ("models", "macros", "seeds", "tests/dbt", "analyses")


def _manifest_target() -> Path:
    """The dbt target folder: ``$DBT_TARGET_PATH`` (default ``target``). The manifest
    Dagster loads and dbt's ``partial_parse.msgpack`` live there; dagster-dbt runs each
    build in its own sub-folder and copies the partial parse state into it."""
    base = Path(os.environ.get("DBT_TARGET_PATH") or "target")
    return base if base.is_absolute() else PROJECT_ROOT / base


def _manifest_is_stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    candidates = [PROJECT_ROOT / "dbt_project.yml", PROJECT_ROOT / "profiles.yml"]
    for folder in _DBT_SOURCES:
        root = PROJECT_ROOT / folder
        if root.is_dir():
            candidates += [p for p in root.rglob("*") if p.is_file()]
    return any(p.exists() and p.stat().st_mtime > built for p in candidates)


def prepare_dbt_project() -> DbtProject:
    """The dbt project, with a manifest parsed now if it is missing or older than the code.

    ``dbt parse`` runs with the venv's dbt (``pipeline.dbt_executable``), not whatever is
    on PATH, and does not open the warehouse. A lock beside the manifest keeps two
    processes loading the code location at once (UI, CLI) from parsing over each other.
    """
    target = _manifest_target()
    project = DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT, target_path=target)
    if _manifest_is_stale(project.manifest_path):
        target.mkdir(parents=True, exist_ok=True)
        with (target / "manifest.json.lock").open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            if _manifest_is_stale(project.manifest_path):  # another process may have parsed
                pipeline.run_dbt(Settings.from_env(),
                                 ["parse", "--quiet", "--target-path", str(target)], quiet=True)
    return project


DBT_PROJECT = prepare_dbt_project()

#: The steps' log: Dagster shows it in the run's log (it captures ``dagster.builtin``) and
#: ``leadscore -v`` prints it once, through the command's own handler (orchestration.console).
log = dg.get_dagster_logger("leadscore")


class LeadscoreTranslator(DagsterDbtTranslator):
    """Asset keys ``<schema>/<name>`` (``marts/lead_scores``), groups by schema, and the
    three ``landing`` sources collapsed into the one ``landing`` asset that loads them."""

    def __init__(self) -> None:
        super().__init__(DagsterDbtTranslatorSettings(enable_duplicate_source_asset_keys=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            if dbt_resource_props.get("source_name") == "landing":
                return LANDING_KEY
            return super().get_asset_key(dbt_resource_props)
        schema = dbt_resource_props.get("schema") or "main"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "landing"
        return dbt_resource_props.get("schema") or "dbt"

    def get_asset_check_spec(self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any],
                             unique_id: str, project: DbtProject | None) -> dg.AssetCheckSpec | None:
        """dagster-dbt's check, described in words (see :mod:`orchestration.dbt_checks`).
        Tests that read several models name the one they guard in their dbt config
        (``meta: {dagster: {ref: ...}}``), so every data test becomes a check."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        return spec._replace(description=describe_test(manifest["nodes"][unique_id]))


def dbt_data_test_count() -> int:
    """How many dbt data tests ``dbt build`` runs (each is one asset check; unit tests
    run in ``make test`` only): the test count a run summary reports."""
    return len(data_test_ids(DBT_PROJECT.manifest_path))


# ------------------------------------------------------------------------- resources


class RefreshOptions(dg.ConfigurableResource):
    """Run configuration of a refresh (resources.options.config in the launchpad)."""

    as_of: str | None = Field(
        default=None,
        description="Score as of this date or UTC timestamp (ISO-8601); default: the run's start.",
    )
    full_refresh: bool = Field(
        default=False,
        description="Reload every landing file and rebuild every dbt model from scratch.",
    )

    def dbt_as_of(self) -> str | None:
        return pipeline.normalise_as_of(self.as_of)


def run_as_of(context: dg.AssetExecutionContext, options: RefreshOptions) -> str:
    """The as_of of this run: the one configured, else the run's start (UTC, seconds).

    Fixed once per run, so that dbt and the serving export (whose manifest must always
    say when the scores are from, even for an empty mart) agree on it.
    """
    given = options.dbt_as_of()
    if given:
        return given
    record = context.instance.get_run_record_by_id(context.run_id)
    moment = record.create_timestamp if record is not None else datetime.now(timezone.utc)
    if moment.tzinfo is None:  # Dagster stores run times in UTC
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def warehouse_resource(
    settings: Settings | None = None, *, lock_held_by_caller: bool = False
) -> dg.ResourceDefinition:
    """The warehouse a run refreshes: yields its :class:`Settings` and holds
    ``pipeline.refresh_lock`` for the whole run, so a UI, schedule or sensor run and
    ``leadscore run`` never write the warehouse at once.

    ``settings`` None: read from the environment when the run starts.
    ``lock_held_by_caller``: ``leadscore run`` took the lock itself before starting the job.
    """

    @dg.resource(
        config_schema={
            "wait_for_lock": dg.Field(
                bool, default_value=True,
                description="Wait for a running refresh to finish (else fail at once).",
            )
        },
        description="Settings of the warehouse being refreshed; holds the refresh lock.",
    )
    def warehouse(init_context: dg.InitResourceContext) -> Iterator[Settings]:
        resolved = settings or Settings.from_env()
        if lock_held_by_caller:
            yield resolved
            return
        wait = bool(init_context.resource_config["wait_for_lock"])
        with pipeline.refresh_lock(resolved, wait=wait):
            yield resolved

    return warehouse


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=pipeline.dbt_executable())


@contextlib.contextmanager
def temporary_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration (dagster-dbt passes os.environ to dbt)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ---------------------------------------------------------------------------- assets


def _load_metadata(load: LoadResult) -> dict[str, Any]:
    files = [
        {"entity": f.entity, "file": f.relative_path, "rows": rows, "size": f.size,
         "mtime_ns": f.mtime_ns, "format": f.fmt}
        for f, rows in load.files
    ]
    return {
        "files_loaded": len(files),
        "rows_loaded": load.total_rows,
        "rows_events": load.rows("events"),
        "rows_leads": load.rows("leads"),
        "rows_orders": load.rows("orders"),
        # rows of people erased on request, dropped at load (orchestration.privacy)
        "rows_dropped_erased": sum(load.dropped_erased.values()),
        "batch_id": load.batch_id if load.batch_id is not None else -1,
        "loaded_at": load.loaded_at.isoformat(sep=" "),
        "files": dg.MetadataValue.json(files),
    }


def _gate_metadata(gate: LandingGate, docs: Path | None) -> dict[str, Any]:
    reports = gate.reports
    warnings = [f"{r.batch}: {o.describe()}" for r in reports for o in r.warnings]
    failures = [f"{r.batch}: {o.describe()}" for r in reports for o in r.blocking_failures]
    would_quarantine: dict[str, int] = {}
    for report in reports:
        for reason, count in report.extra.get("would_quarantine", {}).items():
            would_quarantine[reason] = would_quarantine.get(reason, 0) + count
    metadata: dict[str, Any] = {
        "files_validated": gate.files_validated,
        "expectations_evaluated": sum(r.evaluated for r in reports),
        "expectations_met": sum(r.succeeded for r in reports),
        "warnings": dg.MetadataValue.json(warnings),
        "blocking_failures": dg.MetadataValue.json(failures),
        "would_quarantine": dg.MetadataValue.json(would_quarantine),
    }
    if docs is not None:
        metadata["gx_data_docs"] = dg.MetadataValue.path(str(docs))
    return metadata


@dg.asset(
    key=LANDING_KEY,
    group_name="landing",
    kinds={"duckdb", "python"},
    description=(
        "Raw landing rows (schema landing: events, leads, orders), copied as text from the "
        "new files under $LEADSCORE_LANDING_DIR; every load passes the GX landing gate before it commits."
    ),
    check_specs=[
        dg.AssetCheckSpec(
            LANDING_CHECK,
            asset=LANDING_KEY,
            blocking=True,
            description=(
                "GX landing suite on the new rows of each entity (one validation per load): "
                "required columns, parsing, value sets, ranges, duplicate ids (warnings); "
                "blocks when more than LEADSCORE_MAX_QUARANTINE_SHARE of a file's rows would "
                "be quarantined."
            ),
        )
    ],
)
def landing(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Settings],
    options: RefreshOptions,
) -> Iterator[Any]:
    gate = LandingGate(warehouse)
    try:
        with progress.step("landing", "Loading new landing files (landing gate: GX)") as step:
            load = pipeline.load_landing(warehouse, full_refresh=options.full_refresh,
                                         inspect=gate)
            step.text = (f"{load.total_rows:,} rows from {len(load.files)} new file(s)"
                         if load.files else "no new files")
    except QualityGateFailed as exc:
        docs = gate.build_docs()
        yield dg.AssetCheckResult(
            check_name=LANDING_CHECK,
            asset_key=LANDING_KEY,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=str(exc)[:2000],
            metadata=_gate_metadata(gate, docs),
        )
        log.error(str(exc))
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    except LandingFileError as exc:  # said as written for users, not as a Python error
        log.error(str(exc))
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    docs = gate.build_docs()
    for report in gate.reports:
        log.info(report.describe(only_failures=True))
    yield dg.MaterializeResult(asset_key=LANDING_KEY, metadata=_load_metadata(load))
    yield dg.AssetCheckResult(
        check_name=LANDING_CHECK,
        asset_key=LANDING_KEY,
        passed=True,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(f"{gate.files_validated} new file(s) validated" if gate.reports
                     else "no new landing files"),
        metadata=_gate_metadata(gate, docs),
    )


#: PREDICTIONS_MODEL, the first model that reads the predictive step's table: the refresh
#: builds dbt in two steps around that step, everything before it (``dbt_models``) and it
#: with everything downstream (``dbt_marts``: the predictions, the marts and their tests).
PREDICTIONS_KEY = dg.AssetKey(["predictive", "lead_predictions"])
#: dbt_marts' selection: the predictions model, every mart, and their descendants (tests
#: that read a mart, like lead_category_interest's relationship to lead_scores, run with
#: the marts, after both exist).
MARTS_SELECTION = f"{PREDICTIONS_MODEL}+ path:models/marts+"


def _dbt_build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Settings,
               options: RefreshOptions, step: str, title: str) -> Iterator[Any]:
    """``dbt build`` of this asset's selection (seeds, models, data tests; unit tests run
    in ``make test``), with its progress."""
    args = list(DBT_BUILD_ARGS)
    dbt_env = {**warehouse.dbt_env(), **pipeline.as_of_env(run_as_of(context, options))}
    if options.full_refresh:
        args.append("--full-refresh")
    warehouse.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
    with temporary_environment(warehouse.dbt_env()):
        target = _manifest_target()  # where dagster-dbt puts this build's run folder
    # afterwards, only the newest LEADSCORE_DBT_RUNS_KEPT run folders stay (this one among them)
    state = progress.DbtProgress()
    on_spark = pipeline.on_spark(warehouse)
    plan = _refresh_plan(context, warehouse, options, on_spark)
    # only this step's nodes: dbt matches every --exclude name against the whole graph
    # (~1 s for 250 names), and dbt_marts has nothing to leave out
    here = ({check.name for check in context.assets_def.check_keys}
            | {key.path[-1] for key in context.assets_def.keys})
    args += plan.exclude_args([uid for uid, name in plan.names.items() if name in here])
    if plan.skipped_seeds or plan.skipped_tests:
        log.info(f"{step}: {len(plan.skipped_seeds)} unchanged seed(s) not reloaded, "
                 f"{len(plan.skipped_tests)} data test(s) whose inputs did not change not run")
    if on_spark:  # Spark reads the loader's (and the predictive step's) tables as Parquet
        with progress.step(f"{step}_handover", "Handing the landing tables to Spark"):
            pipeline.hand_over_to_spark(warehouse)
    with housekeeping.dbt_run_folders(target, keep=warehouse.dbt_runs_kept), \
            progress.step(step, title) as outcome:
        yield from _unchanged_seeds(context, plan)  # first: the models built on them follow
        if not on_spark:  # which tests read only the rows since they last passed
            with contextlib.closing(pipeline.connect(warehouse)) as con:
                refresh_selection.write_scopes(con, plan)
        try:
            with temporary_environment(dbt_env):  # the subprocess starts inside cli()
                invocation = dbt.cli(args, context=context)
            yield from _stream_with_progress(context, invocation, state)
        finally:
            if not on_spark:
                with contextlib.closing(pipeline.connect(warehouse)) as con:
                    refresh_selection.clear_scopes(con)
        outcome.text = state.describe()
        if plan.scopes:
            log.info(f"{step}: {len(plan.scopes)} data test(s) read only the rows loaded since "
                     "they last passed")
    _record_verified(warehouse, plan, Path(invocation.target_path) / "run_results.json")
    yield from _tests_not_run(context, plan)
    if on_spark:  # the gates, the predictive step and the serving export read DuckDB
        with progress.step(f"{step}_results", "Copying Spark's tables to the DuckDB warehouse") as copied:
            copied.text = f"{len(pipeline.bring_back_from_spark(warehouse))} tables"


def _is_subset(context: dg.AssetExecutionContext) -> bool:
    """True when Dagster runs only some of this step's assets or checks (a UI selection)."""
    assets_def = context.assets_def  # the test dagster-dbt makes (get_subset_selection_for_context)
    return (assets_def.keys_by_output_name != assets_def.node_keys_by_output_name
            or assets_def.check_specs_by_output_name != assets_def.node_check_specs_by_output_name)


def _refresh_plan(context: dg.AssetExecutionContext, warehouse: Settings,
                  options: RefreshOptions, on_spark: bool) -> refresh_selection.Plan:
    """What this build leaves out (:mod:`orchestration.refresh_selection`): unchanged seeds
    and the data tests whose inputs did not change since they passed; nothing on a full
    refresh, on Spark or in a subset run."""
    if on_spark:
        return refresh_selection.disabled("Spark target: seeds and tests always run")
    if context is not None and _is_subset(context):
        return refresh_selection.disabled("a subset of the dbt assets was selected")
    manifest = _manifest()
    with contextlib.closing(pipeline.connect(warehouse, read_only=True)
                            if warehouse.duckdb_path.exists() else duckdb.connect()) as con:
        if options.full_refresh:  # everything runs on every row; what passes is recorded
            return refresh_selection.everything(
                refresh_selection.plan(con, manifest, tests="all"), "full refresh")
        return refresh_selection.plan(con, manifest, tests=warehouse.refresh_tests)


def _record_verified(warehouse: Settings, plan: refresh_selection.Plan,
                     run_results: Path) -> None:
    """Record the seeds this build loaded and the tests that passed (for the next plan);
    with no plan, only forget the tests that did not pass."""
    if not run_results.exists():
        return
    results = json.loads(run_results.read_text(encoding="utf-8")).get("results") or []
    with contextlib.closing(pipeline.connect(warehouse)) as con:
        refresh_selection.record(con, plan, results)


#: Metadata key of a dbt check result that stands for a test this refresh did not run.
NOT_RUN_KEY = "dbt_test_run"


def _unchanged_seeds(context: dg.AssetExecutionContext,
                     plan: refresh_selection.Plan) -> Iterator[Any]:
    """An unchanged seed reported as materialized, with ``reloaded: false``.

    Without it Dagster would skip every step downstream of the seed (dbt_marts, the
    export, the summary): a multi-asset output that is not emitted skips its consumers.
    Yielded before dbt's events (Dagster wants a multi-asset's outputs in dependency order);
    the table in the warehouse is the one loaded then.
    """
    if not plan.skipped_seeds:
        return
    manifest = _manifest()
    translator = LeadscoreTranslator()
    for uid in sorted(plan.skipped_seeds):
        key = translator.get_asset_spec(manifest, uid, DBT_PROJECT).key
        if key in context.assets_def.keys:
            yield dg.MaterializeResult(asset_key=key, metadata={
                "reloaded": False,
                "loaded_at": str(plan.recorded_at.get(uid, "")),
                "why": "the seed file and its config did not change since that load",
            })


def _tests_not_run(context: dg.AssetExecutionContext,
                   plan: refresh_selection.Plan) -> Iterator[Any]:
    """A data test this refresh left out, reported as *passed* with ``dbt_test_run: false``
    and when it last passed: nothing it reads changed since then, so that result stands.
    Without a result Dagster warns once per blocking check; the run summary counts these
    as not run."""
    from dagster_dbt.asset_utils import get_asset_check_key_for_test

    if not plan.skipped_tests:
        return
    manifest = _manifest()
    translator = LeadscoreTranslator()
    for uid in sorted(plan.skipped_tests):
        check_key = get_asset_check_key_for_test(manifest, translator, uid, DBT_PROJECT)
        if check_key is None or check_key not in context.assets_def.check_keys:
            continue
        passed_at = str(plan.recorded_at.get(uid, ""))
        yield dg.AssetCheckResult(
            asset_key=check_key.asset_key, check_name=check_key.name, passed=True,
            description=(f"Not run by this refresh: nothing it reads changed since it "
                         f"passed at {passed_at} UTC ({refresh_selection.TESTS_ENV}=changed)."),
            metadata={NOT_RUN_KEY: False, "passed_at": passed_at},
        )


def _manifest() -> dict[str, Any]:
    return json.loads(DBT_PROJECT.manifest_path.read_text(encoding="utf-8"))


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=LeadscoreTranslator(),
    name="dbt_models",
    exclude=MARTS_SELECTION,
)
def dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: dg.ResourceParam[Settings],
    options: RefreshOptions,
) -> Iterator[Any]:
    """Seeds, staging, the as_of layer and the scores (up to int_lead_features)."""
    yield from _dbt_build(context, dbt, warehouse, options, "dbt_models",
                          "Building and testing the dbt models")


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=LeadscoreTranslator(),
    name="dbt_marts",
    select=MARTS_SELECTION,
)
def dbt_marts(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: dg.ResourceParam[Settings],
    options: RefreshOptions,
) -> Iterator[Any]:
    """int_lead_predictions, the marts and their tests."""
    yield from _dbt_build(context, dbt, warehouse, options, "dbt_marts",
                          "Building and testing the marts")


@dg.asset(
    key=PREDICTIONS_KEY,
    deps=[FEATURES_KEY, dg.AssetKey(["intermediate", "int_orders_as_of"])],
    group_name="predictive",
    kinds={"python", "duckdb"},
    description=(
        "The purchase probability of every lead at the run's as_of (the latest registered "
        "model trained at or before it; with none, one is trained first unless "
        "LEADSCORE_TRAIN_IF_MISSING is off) and, for leads with purchases, the expected "
        "orders and value in the horizon (BG/NBD + Gamma-Gamma). Written to "
        "predictive.lead_predictions, which int_lead_predictions and the marts read."
    ),
)
def lead_predictions(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Settings],
    options: RefreshOptions,
) -> dg.MaterializeResult:
    from orchestration.predictive import refresh_step

    with progress.step("lead_predictions", "Scoring the purchase probability") as step:
        result = refresh_step.run(warehouse, run_as_of(context, options),
                                  train_if_missing=warehouse.train_if_missing)
        step.text = result.describe()
    for note in result.notes:
        log.info(note)
    return dg.MaterializeResult(metadata={
        "leads": result.leads,
        "propensity_method": result.method,
        "model_version": result.model_version or "",
        "mean_purchase_probability": result.mean_probability
        if result.mean_probability is not None else float("nan"),
        "customer_value_method": result.customer_value_method or "",
        "notes": dg.MetadataValue.json(result.notes),
    })


#: How often a dbt build says how far it is in the Dagster log (the UI's run view).
DBT_LOG_EVERY_SECONDS = 60.0


def _stream_with_progress(context: dg.AssetExecutionContext, invocation: Any,
                          state: progress.DbtProgress) -> Iterator[Any]:
    """dagster-dbt's events for each dbt event (what ``invocation.stream()`` yields),
    reporting nodes done of total as they finish: to the console reporter at once, to
    the Dagster log every :data:`DBT_LOG_EVERY_SECONDS`."""
    logged = time.monotonic()
    for event in invocation.stream_raw_events():
        progress.dbt_event(state, event.raw_event)
        if state.total and time.monotonic() - logged >= DBT_LOG_EVERY_SECONDS:
            logged = time.monotonic()
            running = state.running_text(limit=3)
            log.info(f"dbt build: {state.describe()}"
                             + (f"; running {running}" if running else ""))
        yield from event.to_default_asset_events(
            manifest=invocation.manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=context,
            target_path=invocation.target_path,
            project=invocation.project,
        )


@dg.asset_check(
    asset=LEAD_SCORES_KEY,
    name=MART_CHECK,
    blocking=True,
    description=(
        "GX mart suite on marts.lead_scores: one row per known lead, scores 0-100, known "
        "grades / tiers / stages / actions, not all leads equal, share per grade among the "
        "leads with a profile bounded (LEADSCORE_MAX_GRADE_SHARE; not run in a shop without "
        "profiles). A mart larger than LEADSCORE_GX_MART_MAX_ROWS is validated on a hashed "
        "sample, its row count, nulls, duplicates, ranges and vocabularies counted exactly in "
        "SQL. Blocking: a failure stops the serving export."
    ),
)
def lead_scores_gx(
    context: dg.AssetCheckExecutionContext, warehouse: dg.ResourceParam[Settings]
) -> dg.AssetCheckResult:
    with progress.step("gx_lead_scores", "Validating the mart (GX)") as step:
        report, docs = validate_mart(warehouse)
        step.text = f"{report.succeeded}/{report.evaluated} expectations met"
    text = report.describe(only_failures=report.passed)
    (log.info if report.passed else log.error)(f"{text}\nQuality page: {docs}")
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=report.describe(only_failures=True)[:2000],
        metadata={
            "rows": report.extra.get("rows", report.row_count),
            # fewer than rows: GX saw a hashed sample (LEADSCORE_GX_MART_MAX_ROWS)
            "validated_rows": report.row_count,
            "known_leads": report.extra.get("known_leads", -1),
            "shop_feeds": dg.MetadataValue.json(report.extra.get("shop_feeds", {})),
            "not_run": dg.MetadataValue.json(report.extra.get("not_run", [])),
            "expectations_evaluated": report.evaluated,
            "expectations_met": report.succeeded,
            "blocking_failures": dg.MetadataValue.json(
                [o.describe() for o in report.blocking_failures]),
            "gx_data_docs": dg.MetadataValue.path(str(docs)),
        },
    )


@dg.asset(
    key=SERVING_KEY,
    deps=SERVED_MARTS,
    group_name="serving",
    kinds={"duckdb", "parquet"},
    description=(
        "The validated marts published for BI tools: lead_scores.parquet and serving.duckdb "
        "(lead_scores, lead_category_interest, lead_score_history, campaign_audiences, "
        "campaign_results) and the campaign audiences (audiences/<campaign>.csv) in $LEADSCORE_SERVING_DIR, "
        "replaced atomically; manifest.json says what and when. Not published (BI keeps the "
        "previous version) when lead_scores would lose all its leads or more than "
        "LEADSCORE_MAX_LEAD_LOSS of them."
    ),
)
def serving_export(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Settings],
    options: RefreshOptions,
) -> dg.MaterializeResult:
    with progress.step("serving_export", "Publishing to the serving folder") as step:
        publication = serving.publish(warehouse, run_id=context.run.run_id,
                                      as_of=run_as_of(context, options))
        step.text = f"{publication.row_counts.get('lead_scores', 0):,} leads"
    log.info(publication.describe(warehouse.serving_dir))
    return dg.MaterializeResult(
        metadata={
            "serving_dir": dg.MetadataValue.path(str(warehouse.serving_dir)),
            "as_of": publication.as_of,
            "published_at": publication.published_at,
            **{f"rows_{table}": rows for table, rows in publication.row_counts.items()},
            "manifest": dg.MetadataValue.json(json.loads(
                serving.manifest_path(warehouse.serving_dir).read_text(encoding="utf-8"))),
        }
    )


@dg.asset(
    key=RUN_SUMMARY_KEY,
    deps=[SERVING_KEY],
    group_name="serving",
    kinds={"json"},
    description=(
        "What this refresh did, for people and monitoring: files and rows loaded now, "
        "quarantined now by reason (and in all loads so far), leads new since the last "
        "publication, the biggest score movers and stage changes, the gates' and dbt "
        "tests' results, the top leads and the leads per recommended action (contactable "
        "or not). Written as run_summary.json beside the serving manifest."
    ),
)
def run_summary_json(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Settings],
    options: RefreshOptions,
) -> dg.MaterializeResult:
    with progress.step("run_summary", "Summarising the run") as step:
        events = run_summary.run_events(context.instance, context.run.run_id)
        summary = run_summary.build(warehouse, events, run_id=context.run.run_id,
                                    as_of=run_as_of(context, options),
                                    dbt_test_count=dbt_data_test_count())
        path = run_summary.write(summary, warehouse.serving_dir)
        step.text = str(path)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)),
        "rows_loaded": summary["load"]["rows"],
        "rows_quarantined": summary["quarantine"]["this_run_rows"],
        "leads_scored": summary["leads"].get("scored", 0),
        "leads_new": summary["leads"].get("new_since_last_publication", 0),
        "dbt_tests_passed": summary["checks"]["dbt_tests"]["passed"],
    })


@dg.asset(
    key=SCORE_REPORT_KEY,
    deps=[RUN_SUMMARY_KEY],
    group_name="serving",
    kinds={"html"},
    description=(
        "The score report: one offline HTML page (report/index.html in the serving folder) "
        "with the score distribution, the grade x tier grid (leads, and conversion from the "
        "latest backtest), the lifecycle funnel, conversion, lift and calibration per decile, "
        "score movement since the previous publication, the top reasons, category interest, "
        "the run's quarantine and the quality gates. Built from the serving layer just "
        "published (`leadscore report` rebuilds it)."
    ),
)
def score_report_html(
    context: dg.AssetExecutionContext,
    warehouse: dg.ResourceParam[Settings],
) -> dg.MaterializeResult:
    from orchestration import report

    with progress.step("score_report_html", "Writing the score report") as step:
        written = report.build(warehouse)
        run_summary.add_report(warehouse.serving_dir, context.run.run_id, written)
        step.text = written.describe()
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(written.path)),
        "size_bytes": written.size_bytes,
        "charts": dg.MetadataValue.json(written.charts),
        "notes": dg.MetadataValue.json(written.notes),
    })


# ----------------------------------------------------------------- predictive training


def training_settings_resource() -> dg.ResourceDefinition:
    """The warehouse's settings for training, read when the run starts. Unlike
    :func:`warehouse_resource` it does not hold the refresh lock for the whole run:
    training takes it only to copy the warehouse and to register the model, so the daily
    refresh is not held up by a training run."""

    @dg.resource(description="Settings of the warehouse to train on (environment).")
    def training_settings(_: dg.InitResourceContext) -> Settings:
        return Settings.from_env()

    return training_settings


@dg.asset(
    key=MODEL_KEY,
    deps=[FEATURES_KEY],
    group_name="predictive",
    kinds={"python"},
    description=(
        "The purchase-probability model, trained point in time: int_lead_features rebuilt at "
        "past snapshot dates on a copy of the warehouse, labelled with the purchases of the "
        "following prediction_horizon_days, LightGBM fitted on the older snapshots and "
        "calibrated on the latest (or the rule score calibrated per band when the data are "
        "too few or the model does not beat it). Registered in predictive.model_registry "
        "and predictive.model_evaluations; artefacts in models/ beside the warehouse. "
        "Job `train`, schedule `weekly_training`; `leadscore train` does the same."
    ),
)
def purchase_model(
    context: dg.AssetExecutionContext, training_settings: dg.ResourceParam[Settings]
) -> dg.MaterializeResult:
    from orchestration.predictive.registry import train

    report = train(training_settings)
    log.info(report.format())
    model = report.model
    return dg.MaterializeResult(metadata={
        "version": report.version,
        "method": model.method,
        "reason": model.reason,
        "artefacts": dg.MetadataValue.path(str(report.model_dir)),
        # the validation fold's figures of the model and of the rule score beside it
        **{f"{scorer}_{name}": float(figures[name])
           for scorer, figures in model.evaluation.items()
           for name in ("auc", "top_decile_lift", "calibration_error")
           if figures.get(name) is not None},
    })
