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
   top decile over the average, the AUC of each score (0.5 = random, 1 = perfect), and
   the conversion per fit grade x engagement tier cell (``cells`` in the JSON result).
4. Beside the rule score, the purchase probability of the predictive step at the same
   as_of (the latest model trained at or before it; with none, one is trained on the copy
   for this backtest and thrown away with it, unless ``--no-train``): its AUC, PR-AUC,
   top-decile lift and calibration (mean |predicted - observed| over probability deciles),
   and the same ranking figures for an RFM quintile sum (recency, frequency and monetary
   quintiles of the customers' purchases before as_of, 3-15; 0 without purchases), the
   baseline a shop with orders only would otherwise use.

It refuses what it cannot measure, before any work where it can: a horizon under one day,
a ``--truth-dir`` without order files, an outcome window that starts after the data of the
outcome source ends (nothing is known of it), and, once scored, a window in which no lead
or every lead converted (AUC and lift are undefined). A window that runs past the end of
the data is measured, with a warning saying how many of its days are covered (the
conversion rates are then biased low). The data ends with the day of the source's last
order; the warehouse's also no later than the as_of of its latest refresh (so a stray row
stamped in the future does not stretch it).
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
import numpy as np
import pandas as pd

from orchestration import landing, landing_formats, pipeline
from orchestration.config import Settings
from orchestration.predictive.refresh_step import PREDICTIONS_MODEL

SCORE_COLUMNS = [
    "lead_score",
    "behaviour_score",
    "demographic_score",
    "engagement_score",
    "page_intent_score",
    "purchase_score",
]


def results_dir(settings: Settings) -> Path:
    """Where ``leadscore backtest`` writes its JSON results by default (``backtest/``
    beside the warehouse); the score report reads the latest one from here."""
    return settings.duckdb_path.parent / "backtest"


class CannotMeasure(RuntimeError):
    """The backtest cannot measure what was asked; the message says why and what to do."""


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
    #: Conversion per fit grade x engagement tier cell (``fit_grade``, ``engagement_tier``,
    #: ``score_cell``, ``leads``, ``converters``, ``conversion_rate``); empty when the
    #: scored frame has no grid columns. The score report's heat map reads it.
    cells: list[dict] = dataclasses.field(default_factory=list)
    #: Days of the outcome window the source covers (up to the day of its last order).
    covered_days: float = 0.0
    warnings: list[str] = dataclasses.field(default_factory=list)
    #: The purchase probability beside the rule score and the RFM baseline (None when
    #: the backtest ran without it): see :func:`compare_rankings`.
    propensity: dict | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    def format(self) -> str:
        lines = [
            f"Backtest at {self.as_of}, horizon {self.horizon_days} days ({self.outcome_source})",
            *(f"  WARNING: {warning}" for warning in self.warnings),
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
        if self.propensity is not None:
            lines += ["", *format_propensity(self.propensity)]
        return "\n".join(lines)


#: Rows of the side-by-side table: label, key, format.
_COMPARED = [
    ("AUC", "auc", "{:.3f}"),
    ("PR-AUC", "pr_auc", "{:.3f}"),
    ("top-decile lift", "top_decile_lift", "{:.2f}x"),
    ("calibration error", "calibration_error", "{:.3f}"),
    ("mean predicted", "mean_probability", "{:.1%}"),
]
_RANKINGS = [("purchase_probability", "probability"), ("lead_score", "rule score"),
             ("rfm_quintile_sum", "RFM sum")]


def format_propensity(propensity: dict) -> list[str]:
    """The purchase probability, the rule score and the RFM baseline side by side."""
    head = (f"  Purchase probability ({propensity['method']}"
            + (f", model {propensity['model_version']}" if propensity.get("model_version") else "")
            + ") beside the rule score and an RFM quintile sum:")
    lines = [head, *(f"    note: {note}" for note in propensity.get("notes", []))]
    rankings = propensity["rankings"]
    if "purchase_probability" not in rankings:
        return [*lines, "    the purchase probability is unavailable at this as_of"]
    shown = [(key, name) for key, name in _RANKINGS if key in rankings]
    lines.append("    " + " " * 20 + "".join(f"{name:>14}" for _, name in shown))
    for label, key, fmt in _COMPARED:
        cells = []
        for ranking, _ in shown:
            value = rankings[ranking].get(key)
            cells.append(f"{'n/a' if value is None else fmt.format(value):>14}")
        lines.append(f"    {label:<20}" + "".join(cells))
    lines.append(f"    {'observed rate':<20}{rankings['purchase_probability']['observed_rate']:>14.1%}")
    lines.append("    (calibration: the rule score and the RFM sum are ranks, not probabilities)")
    lines += ["", "    probability decile  leads  predicted  observed"]
    lines += [f"    {int(d['decile']):>18}  {int(d['rows']):>5}  {d['predicted']:>9.1%}  "
              f"{d['observed']:>8.1%}"
              for d in rankings["purchase_probability"]["calibration_deciles"]]
    return lines


def rfm_quintile_sum(orders: pd.DataFrame, leads: pd.Series, as_of: dt.datetime) -> pd.Series:
    """The classic RFM baseline: recency, frequency and monetary quintiles (1-5 each, 5 =
    most recent / most orders / most spent) of each lead's purchases before ``as_of``,
    summed (3-15); 0 for a lead without purchases. Tied values share a quintile."""
    purchases = orders[(pd.to_datetime(orders["ordered_at"]) < as_of)
                       & orders["counts_as_purchase"].fillna(False).astype(bool)]
    per_lead = purchases.groupby("lead_id").agg(
        last=("ordered_at", "max"), frequency=("ordered_at", "size"),
        monetary=("amount_eur", "sum"))
    if per_lead.empty:
        return pd.Series(0, index=leads.index, dtype=int)

    def quintile(values: pd.Series) -> pd.Series:
        # ntile(5) of the ascending order; tied values share their average rank
        ranks = values.rank(method="average")
        return (np.floor((ranks - 1) * 5 / len(values)) + 1).clip(1, 5).astype(int)

    total = (quintile(pd.to_datetime(per_lead["last"]).astype("int64"))
             + quintile(per_lead["frequency"]) + quintile(per_lead["monetary"].fillna(0)))
    return leads.map(total).fillna(0).astype(int)


def compare_rankings(scored: pd.DataFrame) -> dict[str, dict]:
    """AUC, PR-AUC and top-decile lift of the probability, the rule score and the RFM sum
    on the same leads; calibration for the probability only (leads with a probability)."""
    from orchestration.predictive.model import metrics

    frame = scored[scored["purchase_probability"].notna()]
    if frame.empty:
        return {}
    label = frame["converted"].astype(int).to_numpy()
    probability = frame["purchase_probability"].astype(float).to_numpy()
    result = {"purchase_probability": metrics(probability, label)}
    for column in ("lead_score", "rfm_quintile_sum"):
        ranked = metrics(probability, label, ranking=frame[column].astype(float).to_numpy())
        result[column] = {key: ranked[key] for key in
                          ("rows", "positives", "observed_rate", "auc", "pr_auc",
                           "top_decile_lift")}
    for ranking in result.values():
        for key, value in list(ranking.items()):
            if isinstance(value, float):
                ranking[key] = round(value, 4)
    return result


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
    converters = int(frame["converted"].sum())
    window = f"the {horizon_days} days from {as_of} ({source})"
    if n == 0:
        raise CannotMeasure(f"nothing to measure: no leads were scored at {as_of}; "
                            "choose an --as-of after the shop's first data")
    if converters == 0:
        raise CannotMeasure(
            f"nothing to measure: no lead placed an order in {window}, so lift and AUC are "
            "undefined; choose an earlier --as-of or a longer --horizon-days")
    if converters == n:
        raise CannotMeasure(
            f"nothing to measure: every lead placed an order in {window}, so lift and AUC "
            "are undefined; choose a shorter --horizon-days")
    order = frame["lead_score"].rank(method="first", ascending=False)
    frame["decile"] = ((order - 1) * 10 // max(n, 1) + 1).astype(int)
    rate = float(frame["converted"].mean()) if n else 0.0
    deciles = (
        frame.groupby("decile")
        .agg(leads=("converted", "size"), converters=("converted", "sum"),
             conversion_rate=("converted", "mean"), min_score=("lead_score", "min"),
             mean_score=("lead_score", "mean"))
        .reset_index()
    )
    top = deciles.loc[deciles["decile"] == 1, "conversion_rate"]
    lift = float(top.iloc[0] / rate)
    stages = (
        frame.groupby("lifecycle_stage")
        .agg(leads=("converted", "size"), conversion_rate=("converted", "mean"))
        .reset_index()
        .sort_values("conversion_rate", ascending=False)
    )
    cells: list[dict] = []
    if {"fit_grade", "engagement_tier"} <= set(frame.columns):
        grid = (
            frame.groupby(["fit_grade", "engagement_tier"])
            .agg(leads=("converted", "size"), converters=("converted", "sum"),
                 conversion_rate=("converted", "mean"))
            .reset_index()
            .sort_values(["fit_grade", "engagement_tier"])
        )
        cells = [
            {"fit_grade": str(r["fit_grade"]), "engagement_tier": int(r["engagement_tier"]),
             "score_cell": f"{r['fit_grade']}{int(r['engagement_tier'])}",
             "leads": int(r["leads"]), "converters": int(r["converters"]),
             "conversion_rate": float(r["conversion_rate"])}
            for r in grid.to_dict("records")
        ]
    return BacktestResult(
        cells=cells,
        as_of=as_of,
        horizon_days=horizon_days,
        outcome_source=source,
        leads=n,
        converters=converters,
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


_ORDERS_SQL = """
    select trim(lead_id) as lead_id,
           coalesce(lower(nullif(trim(status), '')), 'completed') in ('completed', 'pending')
               as counts_as_purchase,
           cast(try_cast(trim(ordered_at) as timestamptz) as timestamp) as ordered_at
    from ({union}) as truth
"""


def _truth_orders(truth_dir: Path) -> list[landing.LandingFile]:
    """The order files of ``--truth-dir`` (checked before any work)."""
    if not truth_dir.is_dir():
        raise FileNotFoundError(
            f"--truth-dir {truth_dir} does not exist; pass the folder with the later orders "
            "in landing format (an orders/ sub-folder), e.g. the generator's --truth-out")
    files = [f for f in landing.discover(truth_dir, "--truth-dir") if f.entity == "orders"]
    if not files:
        raise FileNotFoundError(
            f"--truth-dir {truth_dir} holds no order files; expected landing-format order "
            f"files under {truth_dir / 'orders'}, e.g. the generator's --truth-out")
    return files


def check_arguments(
    settings: Settings, as_of: str | None, horizon_days: int, truth_dir: Path | None
) -> tuple[str, list[landing.LandingFile]]:
    """The normalised as_of and the truth files; raises before any work on bad arguments."""
    as_of_ts = pipeline.normalise_as_of(as_of)
    if as_of_ts is None:
        raise ValueError("--as-of is required")
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise ValueError(
            f"--horizon-days must be a whole number of days, at least 1, got {horizon_days!r}")
    truth_files = _truth_orders(truth_dir) if truth_dir is not None else []
    if not settings.duckdb_path.exists():
        raise FileNotFoundError(f"no warehouse at {settings.duckdb_path}: run `leadscore run` first")
    return as_of_ts, truth_files


def _outcomes(
    con: duckdb.DuckDBPyConnection, truth_files: list[landing.LandingFile]
) -> pd.DataFrame:
    """Every order of the outcome source: lead_id, counts_as_purchase, ordered_at."""
    if truth_files:
        selects = [landing.file_select_sql(con, f) for f in truth_files]
        union = " union all ".join(sql for sql, _ in selects)
        params = [p for _, file_params in selects for p in file_params]
        try:
            return con.execute(_ORDERS_SQL.format(union=union), params).df()
        finally:
            landing_formats.release()
    return con.execute(
        "select lead_id, counts_as_purchase, ordered_at from staging.stg_landing__orders"
    ).df()


def _scored_until(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """The latest as_of the warehouse was refreshed at: what it knows of the shop ends
    there (an order stamped later is a stray row, not data)."""
    for table in ("marts.lead_score_history", "marts.lead_scores"):
        try:
            value = con.execute(f"select max(as_of) from {table}").fetchone()[0]
        except duckdb.CatalogException:
            continue
        if value is not None:
            return pd.Timestamp(value).to_pydatetime()
    return None


def coverage(
    orders: pd.DataFrame,
    as_of: dt.datetime,
    horizon_days: int,
    source: str,
    known_until: dt.datetime | None = None,
) -> tuple[float, list[str]]:
    """Days of the outcome window the source covers, and the warnings to give.

    The source covers every day up to and including the day of its last order, and no
    further than ``known_until`` (for the warehouse: the as_of of its latest refresh).
    Raises :class:`CannotMeasure` when the window starts at or after the end of that.
    """
    ordered = pd.to_datetime(orders["ordered_at"]).dropna() if len(orders) else pd.Series([])
    if known_until is not None:
        ordered = ordered[ordered < known_until]
    if ordered.empty:
        raise CannotMeasure(f"nothing to measure: there are no {source}")
    last = ordered.max().to_pydatetime()
    covered_until = dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time())
    if known_until is not None:
        covered_until = min(covered_until, known_until)
    if covered_until <= as_of:
        raise CannotMeasure(
            f"nothing to measure: the outcome window starts at {as_of:%Y-%m-%d %H:%M:%S}, after "
            f"the last of the {source} ({last:%Y-%m-%d %H:%M:%S}); choose an --as-of at least "
            f"{horizon_days} days before {last:%Y-%m-%d}, or give the later orders with --truth-dir")
    days = (covered_until - as_of).total_seconds() / 86400
    covered = round(min(float(horizon_days), days), 1)
    warnings = []
    if days < horizon_days:
        warnings.append(
            f"the outcome window covers only {covered:g} of {horizon_days} days: the {source} "
            f"end {last:%Y-%m-%d}, so conversion rates are biased low; choose an "
            f"--as-of at least {horizon_days} days before that, or --horizon-days {int(covered) or 1}")
    return covered, warnings


def run_backtest(
    settings: Settings,
    as_of: str,
    horizon_days: int = 30,
    truth_dir: Path | None = None,
    out_dir: Path | None = None,
    probability: bool = True,
    train: bool = True,
) -> BacktestResult:
    """Score ``as_of`` on a copy of the warehouse and measure it (see the module docstring).

    ``probability``: also run the predictive step at as_of and compare; ``train``: when no
    model trained at or before as_of is registered, train one on the copy (thrown away
    with it; the live registry is never touched), else the probability is unavailable.
    """
    as_of_ts, truth_files = check_arguments(settings, as_of, horizon_days, truth_dir)
    start = dt.datetime.fromisoformat(as_of_ts)
    end = start + dt.timedelta(days=horizon_days)
    source = f"orders in {truth_dir}" if truth_dir is not None else "orders in the warehouse"
    with tempfile.TemporaryDirectory(prefix="leadscore-backtest-") as tmp:
        # dbt rebuilds the as_of models in this DuckDB copy, whatever LEADSCORE_DBT_TARGET is
        # (on Spark, the copy holds the tables the Spark build brought back)
        copy = dataclasses.replace(settings, duckdb_path=Path(tmp) / "backtest.duckdb",
                                   extra_env={**settings.extra_env, "LEADSCORE_DBT_TARGET": "duckdb",
                                              # its own dbt target: the project's manifests
                                              # keep naming the warehouse (mf reads them)
                                              "DBT_TARGET_PATH": str(Path(tmp) / "target")})
        with pipeline.refresh_lock(settings, wait=True):
            shutil.copy2(settings.duckdb_path, copy.duckdb_path)
        # What the window can measure is known before dbt rebuilds anything.
        with contextlib.closing(pipeline.connect(copy)) as con:
            orders = _outcomes(con, truth_files)
            known_until = None if truth_files else _scored_until(con)
        covered_days, warnings = coverage(orders, start, horizon_days, source, known_until)
        ordered = pd.to_datetime(orders["ordered_at"])
        in_window = orders[orders["counts_as_purchase"].fillna(False).astype(bool)
                           & (ordered >= start) & (ordered < end)]
        buyers = pd.DataFrame({"lead_id": sorted(set(in_window["lead_id"].dropna()))})
        # As a refresh does: the as_of models, the predictive step, then what reads it.
        pipeline.run_dbt(copy, ["run", "--select", "tag:as_of",
                                "--exclude", f"{PREDICTIONS_MODEL}+"],
                         as_of=as_of_ts, quiet=True)
        step = None
        if probability:
            from orchestration.predictive import refresh_step

            step = refresh_step.run(copy, as_of_ts, train_if_missing=train)
        pipeline.run_dbt(copy, ["run", "--select", f"{PREDICTIONS_MODEL}+,tag:as_of"],
                         as_of=as_of_ts, quiet=True)
        with contextlib.closing(pipeline.connect(copy)) as con:
            con.register("buyers_frame", buyers)
            con.execute("create temp table buyers as "
                        "select cast(lead_id as varchar) as lead_id from buyers_frame")
            scored = con.execute(
                f"""
                select scores.lead_id,
                       {', '.join('scores.' + c for c in SCORE_COLUMNS)}, scores.lifecycle_stage,
                       scores.fit_grade, scores.engagement_tier,
                       scores.purchase_probability,
                       buyers.lead_id is not null as converted
                from marts.lead_scores as scores
                left join buyers on scores.lead_id = buyers.lead_id
                """
            ).df()
            known_orders = con.execute(
                "select lead_id, ordered_at, amount_eur, counts_as_purchase "
                "from intermediate.int_orders_as_of where lead_id is not null").df()
    result = evaluate(scored, as_of_ts, horizon_days, source)
    result.covered_days, result.warnings = covered_days, warnings
    if step is not None:
        scored["rfm_quintile_sum"] = rfm_quintile_sum(known_orders, scored["lead_id"], start)
        result.propensity = {
            "method": step.method,
            "model_version": step.model_version,
            "notes": step.notes,
            "rankings": compare_rankings(scored),
        }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"backtest-{as_of_ts[:10]}.json").write_text(result.to_json())
    return result
