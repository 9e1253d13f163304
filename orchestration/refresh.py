"""One refresh of the warehouse, end to end, without a Dagster server."""

from __future__ import annotations

from dataclasses import dataclass

from orchestration import pipeline
from orchestration.config import Settings
from orchestration.landing import LoadResult


@dataclass
class RefreshResult:
    load: LoadResult
    summary: pipeline.Summary
    report: str


def refresh(
    settings: Settings,
    *,
    as_of: str | None = None,
    full_refresh: bool = False,
    wait: bool = False,
    dbt_selector: list[str] | None = None,
) -> RefreshResult:
    """Load new landing files, build and test every model, and summarise."""
    with pipeline.refresh_lock(settings, wait=wait):
        load = pipeline.load_landing(settings, full_refresh=full_refresh)
        args = ["build", "--exclude-resource-type", "unit_test", *(dbt_selector or [])]
        if full_refresh:
            args.append("--full-refresh")
        pipeline.run_dbt(settings, args, as_of=as_of, quiet=True)
        summary = pipeline.summarise(settings)
    report = (
        f"Loaded {load.total_rows:,} new landing rows from {len(load.files)} file(s).\n"
        + pipeline.format_summary(settings, summary)
    )
    return RefreshResult(load=load, summary=summary, report=report)
