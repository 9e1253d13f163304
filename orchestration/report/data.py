"""What the score report shows, read from the serving layer (never the warehouse, which a
refresh may hold) and from the files beside it:

- ``serving.duckdb`` (tables lead_scores, lead_category_interest, lead_score_history),
  aggregated here so the page carries counts, not leads;
- ``manifest.json`` (what was published, when) and ``run_summary.json`` (the publishing
  run's quarantine and quality gates);
- the latest ``leadscore backtest`` result (``backtest-*.json`` in
  :func:`orchestration.backtest.results_dir`), when there is one;
- the lifecycle stages' order (``seeds/rules/lifecycle_stages.csv``, the rules the marts
  were built with) for the funnel.

Every part that a shop may lack (no events, no orders, no earlier publication, no
backtest) is an empty frame or None; the page says why instead of drawing it.
"""

from __future__ import annotations

import contextlib
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from orchestration import run_summary, serving
from orchestration.config import PROJECT_ROOT

LIFECYCLE_STAGES_SEED = PROJECT_ROOT / "seeds" / "rules" / "lifecycle_stages.csv"
#: How many reasons and categories the bar charts show.
TOP_REASONS = 15
TOP_CATEGORIES = 15

# One score reason as int_lead_score_reasons writes it: "<rule label> added 12.6 points."
# or "<rule label> took 3.0 points off." (reasons are joined by a space).
REASON_PATTERN = r"(.+?) (added|took) ([0-9]+(?:\.[0-9]+)?) points( off)?\.(?: |$)"


class NothingPublished(FileNotFoundError):
    """The serving folder holds no published scoring to report on."""


@dataclass
class ReportData:
    serving_dir: Path
    manifest: dict[str, Any]
    leads: int
    #: lead_score, leads
    score_distribution: pd.DataFrame
    #: fit_grade, engagement_tier, score_cell, leads
    grid: pd.DataFrame
    #: lifecycle_stage, label, funnel_position (0 = top), leads
    funnel: pd.DataFrame
    #: score_change, leads (leads with an earlier published score)
    movement: pd.DataFrame
    #: new, up, down, unchanged leads; previous_as_of
    movement_counts: dict[str, Any]
    #: reason (rule label), direction (adds / takes off), leads, mean_points
    reasons: pd.DataFrame
    #: product_category, leads_interested, top_category_leads, mean_interest_score
    categories: pd.DataFrame
    summary: dict[str, Any] | None
    backtest: dict[str, Any] | None
    backtest_file: Path | None
    notes: list[str] = field(default_factory=list)


def stage_order(seed: Path = LIFECYCLE_STAGES_SEED) -> dict[str, int]:
    """lifecycle_stage -> funnel position, 0 the top of the funnel (anonymous visitors):
    the stages in reverse order of their stage_priority (repeat customers last)."""
    if not seed.exists():
        return {}
    with seed.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ranked = sorted(rows, key=lambda r: -int(r["stage_priority"]))
    return {row["lifecycle_stage"]: position for position, row in enumerate(ranked)}


def latest_backtest(folder: Path | None) -> tuple[dict[str, Any] | None, Path | None]:
    """The most recently written backtest result in ``folder`` (None when there is none;
    a file that is not a backtest result is skipped)."""
    if folder is None or not folder.is_dir():
        return None, None
    candidates = sorted(folder.glob("backtest-*.json"),
                        key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
    for path in candidates:
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(result, dict) and isinstance(result.get("deciles"), list):
            return result, path
    return None, None


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [table]
    ).fetchone()[0])


def load(serving_dir: Path, backtest_dir: Path | None = None,
         seed: Path = LIFECYCLE_STAGES_SEED) -> ReportData:
    """Everything the page shows, from the published version in ``serving_dir``."""
    manifest = serving.read_manifest(serving_dir)
    database = serving_dir / serving.DUCKDB_NAME
    if manifest is None or not database.exists():
        raise NothingPublished(
            f"no published scoring in {serving_dir} (no {serving.MANIFEST_NAME} or "
            f"{serving.DUCKDB_NAME}): run `leadscore run` first, or pass the serving folder "
            "with --serving-dir")
    with contextlib.closing(duckdb.connect(str(database), read_only=True,
                                           config={"threads": 1})) as con:
        leads = int(con.execute("select count(*) from lead_scores").fetchone()[0])
        distribution = _frame(con, """
            select lead_score, count(*) as leads from lead_scores
            group by all order by lead_score""")
        grid = _frame(con, """
            select fit_grade, engagement_tier, score_cell, count(*) as leads
            from lead_scores group by all order by fit_grade, engagement_tier""")
        funnel = _frame(con, """
            select lifecycle_stage, min(lifecycle_stage_label) as label, count(*) as leads
            from lead_scores group by all""")
        movement = _frame(con, """
            select score_change, count(*) as leads from lead_scores
            where score_change is not null group by all order by score_change""")
        counts = con.execute("""
            select count(*) filter (where previous_lead_score is null),
                   count(*) filter (where score_change > 0),
                   count(*) filter (where score_change < 0),
                   count(*) filter (where score_change = 0),
                   strftime(max(previous_as_of), '%Y-%m-%d %H:%M:%S')
            from lead_scores""").fetchone()
        reasons = _frame(con, f"""
            with matches as (
                select unnest(regexp_extract_all(score_reasons, '{REASON_PATTERN}')) as reason
                from lead_scores
            ),
            parts as (
                select regexp_extract(reason, '{REASON_PATTERN}', 1) as reason,
                       regexp_extract(reason, '{REASON_PATTERN}', 2) as verb,
                       cast(regexp_extract(reason, '{REASON_PATTERN}', 3) as double) as points
                from matches
            )
            select reason,
                   case verb when 'added' then 'adds points' else 'takes points off' end
                       as direction,
                   count(*) as leads,
                   round(avg(points), 1) as mean_points
            from parts group by all
            order by leads desc, reason limit {TOP_REASONS}""")
        categories = pd.DataFrame(columns=["product_category", "leads_interested",
                                           "top_category_leads", "mean_interest_score"])
        if _has_table(con, "lead_category_interest"):
            categories = _frame(con, f"""
                select product_category,
                       count(*) as leads_interested,
                       count(*) filter (where interest_rank = 1) as top_category_leads,
                       round(avg(interest_score), 1) as mean_interest_score
                from lead_category_interest group by all
                order by leads_interested desc, product_category limit {TOP_CATEGORIES}""")
    order = stage_order(seed)
    funnel["funnel_position"] = [order.get(stage, len(order)) for stage in funnel["lifecycle_stage"]]
    funnel = funnel.sort_values(["funnel_position", "lifecycle_stage"]).reset_index(drop=True)
    summary = run_summary.read(serving_dir)
    backtest, backtest_file = latest_backtest(backtest_dir)
    return ReportData(
        serving_dir=serving_dir,
        manifest=manifest,
        leads=leads,
        score_distribution=distribution,
        grid=grid,
        funnel=funnel,
        movement=movement,
        movement_counts={"new": counts[0], "up": counts[1], "down": counts[2],
                         "unchanged": counts[3], "previous_as_of": counts[4]},
        reasons=reasons,
        categories=categories,
        summary=summary,
        backtest=backtest,
        backtest_file=backtest_file,
    )
