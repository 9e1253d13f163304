"""Check the scores against what happened next: conversion per score decile, lift, AUC.

``leadscore backtest --as-of DATE [--horizon-days 30] [--truth-dir DIR]``

1. Copies the warehouse to a temporary file (the live warehouse and its history are never
   touched) and rebuilds only the models that depend on ``as_of`` (dbt tag ``as_of``) at
   that point in time. Nothing on or after ``as_of`` counts, so later data may be present.
2. The outcome of a lead is "placed an order that counts as a purchase in
   [as_of, as_of + horizon)": read from ``--truth-dir`` (landing-format order files, e.g.
   the generator's ``--truth-out``) when given, else from the orders already in the
   warehouse (backtesting the past with later data present).
3. Reports conversion rate per score decile (1 = the 10 % best scores), the lift of the
   top decile over the average, and the AUC of each score (0.5 = random, 1 = perfect).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from orchestration import landing, pipeline
from orchestration.config import Settings

SCORE_COLUMNS = [
    "lead_score",
    "behaviour_score",
    "demographic_score",
    "engagement_score",
    "page_intent_score",
    "purchase_score",
]


@dataclass
class BacktestResult:
    as_of: str
    horizon_days: int
    outcome_source: str
    leads: int
    converters: int
    conversion_rate: float
    top_decile_lift: float
    auc: dict[str, float]
    deciles: list[dict[str, float]]
    stages: list[dict[str, float]]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    def format(self) -> str:
        lines = [
            f"Backtest at {self.as_of}, horizon {self.horizon_days} days ({self.outcome_source})",
            f"  leads {self.leads:,}, converters {self.converters:,} "
            f"({self.conversion_rate:.1%} on average)",
            f"  top-decile lift: {self.top_decile_lift:.2f}x",
            "  AUC: " + ", ".join(f"{k} {v:.3f}" for k, v in self.auc.items()),
            "",
            "  decile  leads  converters  conversion  min score",
        ]
        lines += [
            f"  {int(d['decile']):>6}  {int(d['leads']):>5}  {int(d['converters']):>10}  "
            f"{d['conversion_rate']:>10.1%}  {int(d['min_score']):>9}"
            for d in self.deciles
        ]
        lines += ["", "  lifecycle stage            leads  conversion"]
        lines += [
            f"  {s['lifecycle_stage']:<24} {int(s['leads']):>6}  {s['conversion_rate']:>10.1%}"
            for s in self.stages
        ]
        return "\n".join(lines)


def auc(scores: pd.Series, outcome: pd.Series) -> float:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula; ties count half."""
    positives = int(outcome.sum())
    negatives = len(outcome) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = scores.rank(method="average")
    rank_sum = float(ranks[outcome.astype(bool)].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def evaluate(scored: pd.DataFrame, as_of: str, horizon_days: int, source: str) -> BacktestResult:
    """Metrics from a frame with the score columns, lifecycle_stage and `converted` (0/1)."""
    frame = scored.copy()
    frame["converted"] = frame["converted"].astype(int)
    n = len(frame)
    order = frame["lead_score"].rank(method="first", ascending=False)
    frame["decile"] = ((order - 1) * 10 // max(n, 1) + 1).astype(int)
    rate = float(frame["converted"].mean()) if n else 0.0
    deciles = (
        frame.groupby("decile")
        .agg(leads=("converted", "size"), converters=("converted", "sum"),
             conversion_rate=("converted", "mean"), min_score=("lead_score", "min"))
        .reset_index()
    )
    top = deciles.loc[deciles["decile"] == 1, "conversion_rate"]
    lift = float(top.iloc[0] / rate) if rate > 0 and not top.empty else float("nan")
    stages = (
        frame.groupby("lifecycle_stage")
        .agg(leads=("converted", "size"), conversion_rate=("converted", "mean"))
        .reset_index()
        .sort_values("conversion_rate", ascending=False)
    )
    return BacktestResult(
        as_of=as_of,
        horizon_days=horizon_days,
        outcome_source=source,
        leads=n,
        converters=int(frame["converted"].sum()),
        conversion_rate=rate,
        top_decile_lift=lift,
        auc={c: round(auc(frame[c], frame["converted"]), 4) for c in SCORE_COLUMNS},
        deciles=[{k: float(v) for k, v in row.items()} for row in deciles.to_dict("records")],
        stages=[
            {"lifecycle_stage": r["lifecycle_stage"], "leads": float(r["leads"]),
             "conversion_rate": float(r["conversion_rate"])}
            for r in stages.to_dict("records")
        ],
    )


def _truth_buyers(con: duckdb.DuckDBPyConnection, truth_dir: Path, start: str, end: str) -> None:
    """Create temp table `buyers` from landing-format order files."""
    files = [f for f in landing.discover(truth_dir) if f.entity == "orders"]
    if not files:
        raise FileNotFoundError(f"no order files under {truth_dir / 'orders'}")
    selects = [landing.file_select_sql(con, f) for f in files]
    con.execute(
        f"""
        create temp table buyers as
        select distinct trim(lead_id) as lead_id
        from ({' union all '.join(selects)}) as truth
        where coalesce(lower(nullif(trim(status), '')), 'completed') in ('completed', 'pending')
          and try_cast(trim(ordered_at) as timestamptz) >= cast(? as timestamp)
          and try_cast(trim(ordered_at) as timestamptz) < cast(? as timestamp)
        """,
        [start, end],
    )


def run_backtest(
    settings: Settings,
    as_of: str,
    horizon_days: int = 30,
    truth_dir: Path | None = None,
    out_dir: Path | None = None,
) -> BacktestResult:
    as_of_ts = pipeline.normalise_as_of(as_of)
    if as_of_ts is None:
        raise ValueError("--as-of is required")
    if not settings.duckdb_path.exists():
        raise FileNotFoundError(f"no warehouse at {settings.duckdb_path}: run `leadscore run` first")
    end = (dt.datetime.fromisoformat(as_of_ts) + dt.timedelta(days=horizon_days)).isoformat(sep=" ")
    with tempfile.TemporaryDirectory(prefix="leadscore-backtest-") as tmp:
        copy = dataclasses.replace(settings, duckdb_path=Path(tmp) / "backtest.duckdb")
        with pipeline.refresh_lock(settings, wait=True):
            shutil.copy2(settings.duckdb_path, copy.duckdb_path)
        pipeline.run_dbt(copy, ["run", "--select", "tag:as_of"], as_of=as_of_ts, quiet=True)
        with contextlib.closing(pipeline.connect(copy)) as con:
            if truth_dir is not None:
                _truth_buyers(con, truth_dir, as_of_ts, end)
                source = f"orders in {truth_dir}"
            else:
                con.execute(
                    """
                    create temp table buyers as
                    select distinct lead_id from staging.stg_landing__orders
                    where counts_as_purchase and ordered_at >= cast(? as timestamp)
                      and ordered_at < cast(? as timestamp)
                    """,
                    [as_of_ts, end],
                )
                source = "orders in the warehouse"
            scored = con.execute(
                f"""
                select {', '.join('scores.' + c for c in SCORE_COLUMNS)}, scores.lifecycle_stage,
                       buyers.lead_id is not null as converted
                from marts.lead_scores as scores
                left join buyers on scores.lead_id = buyers.lead_id
                """
            ).df()
    result = evaluate(scored, as_of_ts, horizon_days, source)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"backtest-{as_of_ts[:10]}.json").write_text(result.to_json())
    return result
