"""The Dagster code location (``dagster dev -m orchestration.definitions``, ``make ui``).

One job, ``refresh``, materialises the whole graph in one process (DuckDB allows one
writer): landing -> dbt seeds/models up to int_lead_features (tests as checks) -> the
predictive step (predictive/lead_predictions) -> dbt int_lead_predictions and the marts ->
GX mart check -> serving export -> run summary -> score report (report/index.html). A
second job, ``train``, retrains the purchase-probability model (weekly schedule
``weekly_training``).
It is started by

- ``leadscore run`` (in process, :mod:`orchestration.refresh`),
- the daily schedule ``daily_refresh`` (LEADSCORE_SCHEDULE_CRON, default ``0 5 * * *``,
  in LEADSCORE_SCHEDULE_TIMEZONE, default ``UTC``),
- the sensor ``new_landing_files``, which fires when the landing folder holds a file the
  loader has not loaded yet (judged by the loader's own manifest in the warehouse, the
  rule the load applies), and only then,
- the Dagster UI (launchpad: ``resources.options.config.as_of`` / ``full_refresh``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os

import dagster as dg
import duckdb

from orchestration import assets, landing, pipeline
from orchestration.config import Settings
from orchestration.landing import LandingFile, LandingFileError, LandingFolderMissing, discover

JOB_NAME = "refresh"
SCHEDULE_CRON_DEFAULT = "0 5 * * *"
SCHEDULE_TIMEZONE_DEFAULT = "UTC"

TRAINING_JOB_NAME = "train"
TRAINING_CRON_DEFAULT = "0 4 * * 1"  # Mondays 04:00, before the daily refresh

refresh_job = dg.define_asset_job(
    name=JOB_NAME,
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(assets.MODEL_KEY),
    executor_def=dg.in_process_executor,
    description=(
        "Load new landing files, build and test every dbt model, validate the lead score "
        "mart (GX), publish it to the serving folder for BI tools and write the score "
        "report (report/index.html there)."
    ),
    tags={"leadscore/refresh": "warehouse"},
)


training_job = dg.define_asset_job(
    name=TRAINING_JOB_NAME,
    selection=dg.AssetSelection.assets(assets.MODEL_KEY),
    executor_def=dg.in_process_executor,
    description=(
        "Train the purchase-probability model point in time on the warehouse's own history "
        "and register it (predictive.model_registry, predictive.model_evaluations); the same "
        "as `leadscore train`."
    ),
    tags={"leadscore/train": "warehouse"},
)


def _cron(variable: str, default: str) -> str:
    """A cron expression from the environment; a bad one names the variable."""
    from dagster._utils.schedules import is_valid_cron_schedule

    cron = (os.environ.get(variable) or default).strip()
    if not is_valid_cron_schedule(cron):
        raise ValueError(f"environment variable {variable} must be a cron expression of five "
                         f"fields (minute hour day month weekday), e.g. {default!r}, got {cron!r}")
    return cron


def _timezone(variable: str, default: str) -> str:
    """An IANA time zone name from the environment; a bad one names the variable."""
    import zoneinfo

    timezone = (os.environ.get(variable) or default).strip()
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"environment variable {variable} must be an IANA time zone name such "
                         f"as UTC or Europe/Berlin, got {timezone!r}") from None
    return timezone


def schedule_settings() -> tuple[str, str]:
    """(cron, timezone) of the daily refresh, from the environment."""
    return (_cron("LEADSCORE_SCHEDULE_CRON", SCHEDULE_CRON_DEFAULT),
            _timezone("LEADSCORE_SCHEDULE_TIMEZONE", SCHEDULE_TIMEZONE_DEFAULT))


def training_schedule_settings() -> tuple[str, str]:
    """(cron, timezone) of the weekly training, from the environment."""
    return _cron("LEADSCORE_TRAINING_CRON", TRAINING_CRON_DEFAULT), schedule_settings()[1]


def _schedule(name: str, job: dg.UnresolvedAssetJobDefinition, cron: str, timezone: str,
              what: str, cron_variable: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"{what} ({cron}, {timezone}; {cron_variable} / LEADSCORE_SCHEDULE_TIMEZONE).",
    )


def build_schedule() -> dg.ScheduleDefinition:
    return _schedule("daily_refresh", refresh_job, *schedule_settings(), "Refresh every day",
                     "LEADSCORE_SCHEDULE_CRON")


def build_training_schedule() -> dg.ScheduleDefinition:
    return _schedule("weekly_training", training_job, *training_schedule_settings(),
                     "Retrain the purchase-probability model every week",
                     "LEADSCORE_TRAINING_CRON")


class WarehouseBusy(RuntimeError):
    """The warehouse cannot be read now (a refresh or another writer holds it)."""


def loaded_files(settings: Settings) -> landing.LoadedFiles:
    """The loader's manifest, read from the warehouse opened read-only, outside a refresh.

    Raises :class:`WarehouseBusy` while a refresh runs (it holds the refresh lock; it loads
    the files anyway) or when DuckDB cannot open the file read-only (another writer).
    """
    if not settings.duckdb_path.exists():
        return landing.LoadedFiles()  # nothing was ever loaded
    try:
        with pipeline.unless_refreshing(settings):
            try:
                con = duckdb.connect(str(settings.duckdb_path), read_only=True,
                                     config={"threads": 1})
            except duckdb.Error as exc:
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise WarehouseBusy(
                    f"the warehouse {settings.duckdb_path} cannot be opened read-only "
                    f"({first_line})") from exc
            with contextlib.closing(con):
                return landing.LoadedFiles.read(con)
    except pipeline.RefreshAlreadyRunning as exc:
        raise WarehouseBusy(str(exc)) from exc


def _stat_key(file: LandingFile) -> list[int]:
    return [file.size, file.mtime_ns]


def pending_files(
    settings: Settings, hashes: dict[str, list]
) -> tuple[list[LandingFile], dict[str, list]]:
    """The landing files the next load would load, and the sensor's hash cache.

    A file in the manifest with the same path, size and modification time is not read; a
    file whose path is in it with another size or time is hashed once per (size, time)
    (``hashes``: path -> [size, mtime_ns, sha256], kept in the sensor's cursor) and is new
    only when its content differs from every version loaded.
    """
    files = discover(settings.landing_dir)
    loaded = loaded_files(settings)
    cache: dict[str, list] = {}

    def sha256(file: LandingFile) -> str:
        cached = hashes.get(file.relative_path)
        if isinstance(cached, list) and len(cached) == 3 and cached[:2] == _stat_key(file):
            digest = str(cached[2])
        else:
            digest = landing._sha256(file.path)
        cache[file.relative_path] = [*_stat_key(file), digest]
        return digest

    return landing.new_files(files, loaded, sha256), cache


@dg.sensor(
    name="new_landing_files",
    job=refresh_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Starts a refresh when the landing folder holds a file the loader has not loaded "
        "(not in its manifest landing._files with the same path and size/time or content). "
        "Skips a tick while a refresh runs."
    ),
)
def new_landing_files(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    settings = Settings.from_env()
    try:
        hashes = json.loads(context.cursor) if context.cursor else {}
    except json.JSONDecodeError:  # a cursor of an older version: only a cache, start over
        hashes = {}
    if not isinstance(hashes, dict):
        hashes = {}
    try:
        new, hashes = pending_files(settings, hashes)
    except (LandingFileError, LandingFolderMissing) as exc:
        return dg.SkipReason(f"not starting a refresh: {exc}")
    except WarehouseBusy as exc:
        return dg.SkipReason(f"not checking for new landing files now: {exc}; "
                             "the next tick checks again")
    cursor = json.dumps(hashes, sort_keys=True)
    if not new:
        return dg.SensorResult(
            skip_reason=f"no new landing files in {settings.landing_dir} "
                        "(every file is in the loader's manifest)",
            cursor=cursor,
        )
    # The same files pending give the same run key: Dagster starts that run only once.
    state = {f.relative_path: _stat_key(f) for f in new}
    run_key = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    shown = ", ".join(f.relative_path for f in new[:5])
    shown += f" and {len(new) - 5} more" if len(new) > 5 else ""
    context.log.info(f"{len(new)} landing file(s) not loaded yet: {shown}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=run_key, tags={"leadscore/new_files": str(len(new))})
        ],
        cursor=cursor,
    )


daily_refresh = build_schedule()
weekly_training = build_training_schedule()

defs = dg.Definitions(
    assets=[assets.landing, assets.dbt_models, assets.lead_predictions, assets.dbt_marts,
            assets.serving_export, assets.run_summary_json, assets.score_report_html,
            assets.purchase_model],
    asset_checks=[assets.lead_scores_gx],
    jobs=[refresh_job, training_job],
    schedules=[daily_refresh, weekly_training],
    sensors=[new_landing_files],
    resources={
        "dbt": assets.dbt_resource(),
        "warehouse": assets.warehouse_resource(),
        "training_settings": assets.training_settings_resource(),
        "options": assets.RefreshOptions.configure_at_launch(),
    },
    executor=dg.in_process_executor,
)
