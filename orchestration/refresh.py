"""One refresh, end to end, without a Dagster server: ``leadscore run`` and ``make run``.

Runs the Dagster job ``refresh`` (orchestration/definitions.py) in this process, while
holding the warehouse's refresh lock, and prints the run's summary (the job's last step
writes it: orchestration.run_summary): what this run loaded and quarantined, what moved,
the checks, the top leads, the campaigns and the serving paths. Its steps report their
progress to orchestration.progress; a failed run raises one message saying what, where
and what to do.

The run goes to the Dagster instance of ``$DAGSTER_HOME`` when it is set (``make run``
and ``make ui`` share ``data/dagster_home``, so CLI runs show up in the UI), else to a
throw-away in-memory instance.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestration import landing, pipeline, progress, run_summary, serving
from orchestration.dagster_instance import ensure_dagster_home
from orchestration.config import Settings
from orchestration.landing import LandingFile, LoadResult


#: Libraries whose INFO logging would drown the report.
QUIET_LOGGERS = ("dagster", "dagster.builtin", "dagster_dbt", "great_expectations")


class RefreshFailed(RuntimeError):
    """The refresh stopped (a quality gate, a dbt error, an unreadable file); the message
    says where and why, and that the serving layer still holds the previous version."""


@dataclass(frozen=True)
class CheckResult:
    asset: str
    check: str
    passed: bool
    description: str
    metadata: dict[str, Any]

    @property
    def is_gx(self) -> bool:
        return self.check.startswith("gx_")


@dataclass
class RefreshResult:
    load: LoadResult
    summary: dict[str, Any]  # the run summary (run_summary.json; orchestration.run_summary)
    report: str
    run_id: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    publication: dict[str, Any] | None = None
    step_seconds: dict[str, float] = field(default_factory=dict)


def refresh(
    settings: Settings,
    *,
    as_of: str | None = None,
    full_refresh: bool = False,
    wait: bool = False,
    echo_dbt: bool | None = None,
) -> RefreshResult:
    """Load new landing files, build and test every model, validate, publish, summarise.

    A second refresh of the same warehouse exits with :class:`RefreshAlreadyRunning`
    (or waits with ``wait=True``). A failed run raises :class:`RefreshFailed` and leaves
    the serving layer at its previous version.
    """
    as_of = pipeline.normalise_as_of(as_of)
    landing.require_folder(settings.landing_dir)  # before any work: a mistyped path
    started = time.perf_counter()
    verbose = logging.getLogger().getEffectiveLevel() <= logging.INFO
    # dbt's console output: printed under -v (not with --log-format json, whose stdout is
    # JSON), else kept for the failure report
    echo_dbt = verbose if echo_dbt is None else echo_dbt
    with pipeline.refresh_lock(settings, wait=wait):
        # Imported here: loading the code location parses the dbt project if needed.
        with progress.step("prepare", "Preparing (dbt parse when the project changed)"):
            from orchestration import assets, definitions

        job = definitions.defs.resolve_job_def(definitions.JOB_NAME)
        output = io.StringIO()  # dbt's console output, shown with -v or when a step fails
        with _instance() as instance, _quiet(output, mute_logs=not verbose,
                                                    capture=not echo_dbt):
            result = job.execute_in_process(
                run_config={
                    "resources": {
                        "options": {"config": {"as_of": as_of, "full_refresh": full_refresh}}
                    },
                    # Dagster's own console lines would repeat its records, which reach
                    # the command's log handler (orchestration.console) under -v
                    "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
                },
                instance=instance,
                resources={
                    "warehouse": assets.warehouse_resource(settings, lock_held_by_caller=True)
                },
                raise_on_error=False,
                tags={"leadscore/started_by": "leadscore run"},
            )
            checks = _check_results(result)
            if not result.success:
                raise RefreshFailed(_failure_report(settings, result, checks, output.getvalue()))
            load = _load_result(result, assets.LANDING_KEY)
            steps = run_summary.run_events(instance, result.run_id)["steps"]
        rows_per_layer = pipeline.rows_per_layer(settings) if verbose else []
    publication = serving.read_manifest(settings.serving_dir)
    summary = run_summary.read(settings.serving_dir)
    if summary is not None and summary.get("run_id") != result.run_id:
        summary = None  # another run's (never expected: the summary step ran in this job)
    steps["total"] = round(time.perf_counter() - started, 1)
    report = _report(summary, result.run_id, steps, verbose, rows_per_layer)
    return RefreshResult(load, summary or {}, report, result.run_id, checks, publication, steps)


@contextlib.contextmanager
def _quiet(output: io.StringIO, mute_logs: bool, capture: bool) -> Iterator[None]:
    """Keep the console for the progress and the summary: dbt's streamed output goes to
    ``output`` (``capture``) and the libraries' logging is muted (``mute_logs``; a failure
    is said once, by the failure report). ``leadscore -v`` shows everything."""
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS] if mute_logs else []
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(output) if capture else contextlib.nullcontext():
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


# ------------------------------------------------------------------------ run records


class _instance:
    """The Dagster instance of $DAGSTER_HOME, or an ephemeral one."""

    def __enter__(self) -> Any:
        from dagster import DagsterInstance

        home = os.environ.get("DAGSTER_HOME")
        if home:
            ensure_dagster_home(Path(home))
            self.instance = DagsterInstance.get()
        else:
            self.instance = DagsterInstance.ephemeral()
        return self.instance

    def __exit__(self, *exc: object) -> None:
        self.instance.dispose()


def _metadata_values(metadata: dict[str, Any]) -> dict[str, Any]:
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def _check_results(result: Any) -> list[CheckResult]:
    checks = []
    for evaluation in result.get_asset_check_evaluations():
        checks.append(
            CheckResult(
                asset=evaluation.asset_key.to_user_string(),
                check=evaluation.check_name,
                passed=bool(evaluation.passed),
                description=evaluation.description or "",
                metadata=_metadata_values(dict(evaluation.metadata or {})),
            )
        )
    return checks


def _load_result(result: Any, landing_key: Any) -> LoadResult:
    """The landing step's LoadResult, rebuilt from its materialization metadata."""
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key != landing_key:
            continue
        meta = _metadata_values(dict(materialization.metadata))
        batch_id = int(meta.get("batch_id", -1))
        load = LoadResult(
            batch_id=None if batch_id < 0 else batch_id,
            loaded_at=datetime.fromisoformat(str(meta["loaded_at"])),
        )
        for item in meta.get("files", []):
            file = LandingFile(
                entity=item["entity"],
                path=Path(item["file"]),
                relative_path=item["file"],
                fmt=item["format"],
                size=int(item["size"]),
                mtime_ns=int(item["mtime_ns"]),
            )
            load.files.append((file, int(item["rows"])))
        return load
    raise RefreshFailed("the refresh run recorded no landing materialization")


# ---------------------------------------------------------------------------- reports


def _report(summary: dict[str, Any] | None, run_id: str, steps: dict[str, float],
            verbose: bool, rows_per_layer: list[tuple[str, int]]) -> str:
    """The first line (time per step: ``leadscore bench`` reads it), then the run summary."""
    timing = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in steps.items()
                       if step != "total")
    head = f"Refresh run {run_id} succeeded in {steps.get('total', 0.0):.1f} s ({timing})."
    if summary is None:  # a job without the summary step (never in this project)
        return head
    return f"{head}\n\n" + run_summary.format_text(summary, verbose=verbose,
                                                     rows_per_layer=rows_per_layer)


def _failure_report(
    settings: Settings, result: Any, checks: list[CheckResult], output: str
) -> str:
    """What stopped the run, said once and first; then dbt's output (when dbt failed), the
    checks not already described, what BI reads now and where the full log is."""
    failures = [
        (event.step_key, _failure_text(event)) for event in result.get_step_failure_events()
    ]
    lines: list[str] = []
    for number, (step, message) in enumerate(failures):
        first, *rest = message.strip().splitlines() or ["unknown error"]
        lead = f"the refresh stopped (step {step})" if number == 0 else f"Step {step} failed too"
        lines += [f"{lead}: {first}", *rest]
    if not failures:
        lines.append("the refresh stopped")
    if {"dbt_models", "dbt_marts"} & {step for step, _ in failures} and output.strip():
        lines.append("The end of dbt's output:")
        lines += [f"  {line}" for line in output.strip().splitlines()[-30:]]
    shown = "\n".join(lines)
    failed = [c for c in checks
              if not c.passed and (c.description or "").strip()[:200] not in shown]
    if failed:
        lines.append("Failed checks:")
        for check in failed:
            lines.append(f"  {check.asset} {check.check}:")
            lines += [f"    {line}" for line in (check.description or "").splitlines()]
    docs = settings.gx_docs_dir / "index.html"
    if docs.exists() and "Quality page" not in shown:  # link only what was written
        lines.append(f"Quality page (GX results, offline): {docs}")
    previous = serving.read_manifest(settings.serving_dir)
    published = "serving_export" in {event.step_key for event in result.get_step_success_events()}
    if published and previous:
        # a step after the export failed (the run summary, the score report): BI already
        # reads this run's scores
        lines.append(
            f"The serving layer was updated by this run before the failure: BI tools read the "
            f"version published {previous['published_at']} (as_of {previous['as_of']}) in "
            f"{settings.serving_dir}."
        )
    elif previous:
        lines.append(
            f"The serving layer was not updated: BI tools still read the version published "
            f"{previous['published_at']} (as_of {previous['as_of']}) in {settings.serving_dir}."
        )
    else:
        lines.append(f"Nothing was published to {settings.serving_dir}.")
    lines.append(f"(Dagster run {result.run_id}; run with -v for the full log.)")
    return "\n".join(lines)


def _failure_text(event: Any) -> str:
    user = event.step_failure_data.user_failure_data
    if user and user.description:
        return user.description
    return _error_text(event.step_failure_data.error)


def _error_text(error: Any) -> str:
    """The innermost user error of a step failure (not Dagster's wrapping)."""
    if error is None:
        return "unknown error"
    while error.cause is not None and error.cls_name.startswith("Dagster"):
        error = error.cause
    if error.cls_name == "DagsterAssetCheckFailedError":  # the checks are described below
        names = [line.replace(": ", " ", 1) for line in error.message.strip().splitlines()[1:]]
        return f"blocking check failed: {', '.join(names)} (details below)"
    # Dagster's message repeats the class ("orchestration.landing.LandingFileError: ...")
    message = re.sub(rf"^([\w.]*\.)?{re.escape(error.cls_name)}: ", "", error.message.strip())
    from orchestration.errors import USER_ERRORS

    if error.cls_name in {cls.__name__ for cls in USER_ERRORS}:
        return message  # a message written for users: no class name before it
    return f"{error.cls_name}: {message}"
