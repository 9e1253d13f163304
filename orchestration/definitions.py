"""The Dagster code location (``dagster dev -m orchestration.definitions``, ``make ui``).

One job, ``refresh``, materialises the whole graph in one process (DuckDB allows one
writer): landing -> dbt seeds/models (tests as checks) -> GX mart check -> serving export.
It is started by

- ``leadscore run`` (in process, :mod:`orchestration.refresh`),
- the daily schedule ``daily_refresh`` (LEADSCORE_SCHEDULE_CRON, default ``0 5 * * *``,
  in LEADSCORE_SCHEDULE_TIMEZONE, default ``UTC``),
- the sensor ``new_landing_files``, which fires when a landing file appears or changes
  (name, size or modification time) and only then,
- the Dagster UI (launchpad: ``resources.options.config.as_of`` / ``full_refresh``).
"""

from __future__ import annotations

import hashlib
import json
import os

import dagster as dg

from orchestration import assets
from orchestration.config import Settings
from orchestration.landing import LandingFileError, discover

JOB_NAME = "refresh"
SCHEDULE_CRON_DEFAULT = "0 5 * * *"
SCHEDULE_TIMEZONE_DEFAULT = "UTC"

refresh_job = dg.define_asset_job(
    name=JOB_NAME,
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description=(
        "Load new landing files, build and test every dbt model, validate the lead score "
        "mart (GX) and publish it to the serving folder for BI tools."
    ),
    tags={"leadscore/refresh": "warehouse"},
)


def schedule_settings() -> tuple[str, str]:
    """(cron, timezone) of the daily refresh, from the environment."""
    cron = os.environ.get("LEADSCORE_SCHEDULE_CRON") or SCHEDULE_CRON_DEFAULT
    timezone = os.environ.get("LEADSCORE_SCHEDULE_TIMEZONE") or SCHEDULE_TIMEZONE_DEFAULT
    return cron, timezone


def build_schedule() -> dg.ScheduleDefinition:
    cron, timezone = schedule_settings()
    return dg.ScheduleDefinition(
        name="daily_refresh",
        job=refresh_job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=(
            f"Refresh every day ({cron}, {timezone}; LEADSCORE_SCHEDULE_CRON / "
            "LEADSCORE_SCHEDULE_TIMEZONE)."
        ),
    )


def landing_fingerprint(settings: Settings) -> dict[str, list[int]]:
    """Every landing file by relative path: [size, modification time in ns]."""
    return {f.relative_path: [f.size, f.mtime_ns] for f in discover(settings.landing_dir)}


@dg.sensor(
    name="new_landing_files",
    job=refresh_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Starts a refresh when a landing file appears or changes (name, size, mtime); "
        "the cursor remembers what was seen. Its first evaluation fires when files exist."
    ),
)
def new_landing_files(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    settings = Settings.from_env()
    try:
        current = landing_fingerprint(settings)
    except LandingFileError as exc:
        return dg.SkipReason(f"not starting a refresh: {exc}")
    seen: dict[str, list[int]] = json.loads(context.cursor) if context.cursor else {}
    new = sorted(path for path, stat in current.items() if seen.get(path) != stat)
    if not new:
        return dg.SkipReason(f"no new landing files in {settings.landing_dir}")
    run_key = hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest()[:16]
    shown = ", ".join(new[:5]) + (f" and {len(new) - 5} more" if len(new) > 5 else "")
    context.log.info(f"{len(new)} new or changed landing file(s): {shown}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=run_key, tags={"leadscore/new_files": str(len(new))})
        ],
        cursor=json.dumps(current, sort_keys=True),
    )


daily_refresh = build_schedule()

defs = dg.Definitions(
    assets=[assets.landing, assets.dbt_models, assets.serving_export],
    asset_checks=[assets.lead_scores_gx],
    jobs=[refresh_job],
    schedules=[daily_refresh],
    sensors=[new_landing_files],
    resources={
        "dbt": assets.dbt_resource(),
        "warehouse": assets.warehouse_resource(),
        "options": assets.RefreshOptions.configure_at_launch(),
    },
    executor=dg.in_process_executor,
)
