"""The report's charts as Vega-Lite specs (built with Altair), each with a title and a
caption; a chart whose data is absent is a short note saying why instead.

The data in the specs are aggregates (leads per score, per cell, per stage ...), never
lead rows: the page stays small whatever the shop's size. Text from the data (category
names, reasons, stage labels) goes into the specs as values only, never as field names
or expressions, so Vega draws it as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd

from orchestration.report.data import ReportData

WIDTH = 520
HEIGHT = 260
GRADES = ["A", "B", "C", "D"]
TIERS = [1, 2, 3, 4]
NO_BACKTEST = ("No backtest yet: `leadscore backtest --as-of DATE` measures the scores against "
               "the orders that followed; the report shows the latest result.")


@dataclass
class Chart:
    key: str
    title: str
    caption: str
    spec: dict[str, Any] | None = None
    note: str | None = None


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    return chart.to_dict()


def _count(value: Any) -> str:
    return f"{int(value or 0):,}"


def score_distribution(data: ReportData) -> Chart:
    chart = Chart("score_distribution", "Score distribution",
                  f"Leads per band of 5 points of the rule score (0-100), {_count(data.leads)} "
                  f"leads at as_of {data.manifest.get('as_of')}.")
    if data.score_distribution.empty:
        chart.note = "The published scoring has no leads."
        return chart
    chart.spec = _spec(alt.Chart(data.score_distribution).mark_bar().encode(
        x=alt.X("lead_score:Q", bin=alt.Bin(extent=[0, 100], step=5), title="Lead score"),
        y=alt.Y("sum(leads):Q", title="Leads"),
        tooltip=[alt.Tooltip("lead_score:Q", bin=alt.Bin(extent=[0, 100], step=5),
                             title="Score band"),
                 alt.Tooltip("sum(leads):Q", title="Leads", format=",")],
    ).properties(width=WIDTH, height=HEIGHT))
    return chart


def _full_grid(cells: pd.DataFrame) -> pd.DataFrame:
    """Every grade x tier cell (the observed ones and A-D x 1-4), empty cells at 0."""
    grades = sorted(set(GRADES) | set(cells["fit_grade"].astype(str)))
    tiers = sorted(set(TIERS) | {int(t) for t in cells["engagement_tier"]})
    frame = pd.DataFrame([(g, t) for g in grades for t in tiers],
                         columns=["fit_grade", "engagement_tier"])
    cells = cells.assign(fit_grade=cells["fit_grade"].astype(str),
                         engagement_tier=cells["engagement_tier"].astype(int))
    merged = frame.merge(cells, on=["fit_grade", "engagement_tier"], how="left")
    merged["score_cell"] = merged["fit_grade"] + merged["engagement_tier"].astype(str)
    return merged


def _heat_map(frame: pd.DataFrame, value: str, value_title: str, value_format: str,
              tooltip: list[alt.Tooltip], scheme: str) -> dict[str, Any]:
    base = alt.Chart(frame).encode(
        x=alt.X("engagement_tier:O", title="Engagement tier (1 = most engaged)",
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("fit_grade:O", title="Fit grade (A = best fit)"),
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color(f"{value}:Q", title=value_title,
                        scale=alt.Scale(scheme=scheme),
                        legend=alt.Legend(format=value_format)),
        tooltip=[alt.Tooltip("score_cell:N", title="Cell"), *tooltip],
    )
    labels = base.mark_text(fontSize=13).encode(
        text=alt.Text(f"{value}:Q", format=value_format),
        color=alt.value("#111"),
    )
    return _spec((cells + labels).properties(width=WIDTH * 0.75, height=HEIGHT))


def grid_leads(data: ReportData) -> Chart:
    chart = Chart("grid_leads", "Fit grade x engagement tier: leads",
                  "Leads per cell of the grid (A1 = best fit and most engaged).")
    if data.grid.empty:
        chart.note = "The published scoring has no leads."
        return chart
    frame = _full_grid(data.grid[["fit_grade", "engagement_tier", "leads"]])
    frame["leads"] = frame["leads"].fillna(0).astype(int)
    chart.spec = _heat_map(frame, "leads", "Leads", ",d",
                           [alt.Tooltip("leads:Q", title="Leads", format=",")], "blues")
    return chart


def grid_conversion(data: ReportData) -> Chart:
    chart = Chart("grid_conversion", "Fit grade x engagement tier: conversion",
                  "Share of each cell's leads that bought in the latest backtest's window.")
    backtest = data.backtest
    if backtest is None:
        chart.note = NO_BACKTEST
        return chart
    chart.caption = (f"Share of each cell's leads that bought in the {backtest['horizon_days']} "
                     f"days after {backtest['as_of']} (latest backtest).")
    cells = pd.DataFrame(backtest.get("cells") or [])
    if cells.empty:
        chart.note = (f"The latest backtest ({data.backtest_file.name if data.backtest_file else ''})"
                      " has no conversion per cell (it was written before the backtest measured "
                      "it): run `leadscore backtest` again.")
        return chart
    frame = _full_grid(cells[["fit_grade", "engagement_tier", "leads", "converters",
                              "conversion_rate"]])
    frame = frame[frame["leads"].notna()]
    chart.spec = _heat_map(frame, "conversion_rate", "Conversion", ".1%",
                           [alt.Tooltip("conversion_rate:Q", title="Conversion", format=".1%"),
                            alt.Tooltip("leads:Q", title="Leads", format=","),
                            alt.Tooltip("converters:Q", title="Bought", format=",")], "greens")
    return chart


def funnel(data: ReportData) -> Chart:
    chart = Chart("funnel", "Lifecycle funnel",
                  "Leads per lifecycle stage, from the top of the funnel (anonymous visitors) "
                  "to repeat customers; each lead is in one stage.")
    if data.funnel.empty:
        chart.note = "The published scoring has no leads."
        return chart
    frame = data.funnel.copy()
    frame["share"] = frame["leads"] / frame["leads"].sum()
    order = list(dict.fromkeys(frame["label"]))
    base = alt.Chart(frame).encode(
        y=alt.Y("label:N", sort=order, title=None),
        x=alt.X("leads:Q", title="Leads"),
    )
    bars = base.mark_bar(color="#4c78a8").encode(
        tooltip=[alt.Tooltip("label:N", title="Stage"),
                 alt.Tooltip("leads:Q", title="Leads", format=","),
                 alt.Tooltip("share:Q", title="Share", format=".1%")])
    text = base.mark_text(align="left", dx=4).encode(text=alt.Text("share:Q", format=".1%"))
    chart.spec = _spec((bars + text).properties(width=WIDTH - 120, height=HEIGHT))
    return chart


def deciles(data: ReportData) -> Chart:
    chart = Chart("deciles", "Conversion and lift per score decile",
                  "Decile 1 = the 10 % best rule scores; bars: conversion, labels: lift over "
                  "the average (dashed line).")
    backtest = data.backtest
    if backtest is None or not backtest.get("deciles"):
        chart.note = NO_BACKTEST
        return chart
    frame = pd.DataFrame(backtest["deciles"])
    average = float(backtest["conversion_rate"])
    frame["decile"] = frame["decile"].astype(int)
    frame["lift"] = frame["conversion_rate"] / average if average else None
    frame["lift_text"] = frame["lift"].map(lambda v: f"{v:.1f}x")
    chart.caption = (f"Backtest at {backtest['as_of']}, {backtest['horizon_days']} days, "
                     f"{_count(backtest['leads'])} leads, {backtest['conversion_rate']:.1%} bought "
                     f"on average. Decile 1 = the 10 % best rule scores; bars: conversion, "
                     f"labels: lift over the average (dashed line).")
    base = alt.Chart(frame).encode(
        x=alt.X("decile:O", title="Score decile (1 = best)", axis=alt.Axis(labelAngle=0)))
    bars = base.mark_bar(color="#54a24b").encode(
        y=alt.Y("conversion_rate:Q", title="Conversion", axis=alt.Axis(format="%")),
        tooltip=[alt.Tooltip("decile:O", title="Decile"),
                 alt.Tooltip("conversion_rate:Q", title="Conversion", format=".1%"),
                 alt.Tooltip("lift:Q", title="Lift", format=".2f"),
                 alt.Tooltip("leads:Q", title="Leads", format=","),
                 alt.Tooltip("min_score:Q", title="Lowest score")])
    text = base.mark_text(dy=-6).encode(y="conversion_rate:Q", text="lift_text:N")
    rule = alt.Chart(pd.DataFrame({"average": [average]})).mark_rule(
        strokeDash=[4, 4], color="#333").encode(y="average:Q")
    chart.spec = _spec((bars + text + rule).properties(width=WIDTH, height=HEIGHT))
    return chart


def calibration(data: ReportData) -> Chart:
    chart = Chart("calibration", "Calibration",
                  "Observed conversion against the prediction, per decile; on the diagonal a "
                  "prediction is right on average.")
    backtest = data.backtest
    if backtest is None or not backtest.get("deciles"):
        chart.note = NO_BACKTEST
        return chart
    rows = []
    for decile in backtest["deciles"]:
        score = decile.get("mean_score", decile.get("min_score"))
        rows.append({"series": "rule score / 100 (a rank, not a probability)",
                     "predicted": float(score) / 100, "observed": float(decile["conversion_rate"]),
                     "leads": int(decile["leads"])})
    notes = []
    rankings = ((backtest.get("propensity") or {}).get("rankings") or {})
    probability = rankings.get("purchase_probability") or {}
    for decile in probability.get("calibration_deciles") or []:
        rows.append({"series": "purchase probability", "predicted": float(decile["predicted"]),
                     "observed": float(decile["observed"]), "leads": int(decile["rows"])})
    if not probability.get("calibration_deciles"):
        notes.append("The latest backtest has no purchase probability (none was available "
                      "at its as_of, or it ran with --no-probability): the rule score only.")
    frame = pd.DataFrame(rows)
    top = max(float(frame["predicted"].max()), float(frame["observed"].max()), 0.01)
    diagonal = pd.DataFrame({"predicted": [0.0, top], "observed": [0.0, top]})
    lines = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("predicted:Q", title="Predicted (per decile)", axis=alt.Axis(format="%")),
        y=alt.Y("observed:Q", title="Observed conversion", axis=alt.Axis(format="%")),
        color=alt.Color("series:N", title=None,
                        legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=400)),
        tooltip=[alt.Tooltip("series:N", title="Score"),
                 alt.Tooltip("predicted:Q", title="Predicted", format=".1%"),
                 alt.Tooltip("observed:Q", title="Observed", format=".1%"),
                 alt.Tooltip("leads:Q", title="Leads", format=",")])
    ideal = alt.Chart(diagonal).mark_line(strokeDash=[4, 4], color="#999").encode(
        x="predicted:Q", y="observed:Q")
    chart.spec = _spec((ideal + lines).properties(width=WIDTH - 120, height=HEIGHT))
    chart.caption += " " + " ".join(notes) if notes else ""
    return chart


def movement(data: ReportData) -> Chart:
    counts = data.movement_counts
    chart = Chart("movement", "Score movement since the previous published scoring",
                  "")
    if data.movement.empty:
        chart.note = ("No earlier published scoring to compare with: every lead is new "
                      "(the next published refresh shows how scores moved).")
        return chart
    chart.caption = (f"Change of each lead's score since the scoring published at "
                     f"{counts['previous_as_of']}: {_count(counts['up'])} up, "
                     f"{_count(counts['down'])} down, {_count(counts['unchanged'])} unchanged, "
                     f"{_count(counts['new'])} new leads (not shown).")
    frame = data.movement.assign(direction=[
        "up" if change > 0 else "down" if change < 0 else "unchanged"
        for change in data.movement["score_change"]])
    chart.spec = _spec(alt.Chart(frame).mark_bar().encode(
        x=alt.X("score_change:Q", bin=alt.Bin(maxbins=40), title="Score change (points)"),
        y=alt.Y("sum(leads):Q", title="Leads (symmetric log scale)",
                scale=alt.Scale(type="symlog")),
        color=alt.Color("direction:N", title=None,
                        scale=alt.Scale(domain=["up", "unchanged", "down"],
                                        range=["#4c78a8", "#bab0ac", "#e45756"]),
                        legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("score_change:Q", bin=alt.Bin(maxbins=40), title="Change"),
                 alt.Tooltip("sum(leads):Q", title="Leads", format=",")],
    ).properties(width=WIDTH, height=HEIGHT))
    return chart


def reasons(data: ReportData) -> Chart:
    chart = Chart("reasons", "Most frequent reasons",
                  "The rules most often among a lead's top reasons (lead_scores.score_reasons), "
                  "with the mean points they add or take off.")
    if data.reasons.empty:
        chart.note = "No lead has a reason: no rule moved any score."
        return chart
    frame = data.reasons.copy()
    order = list(dict.fromkeys(frame["reason"]))
    chart.spec = _spec(alt.Chart(frame).mark_bar().encode(
        y=alt.Y("reason:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("leads:Q", title="Leads with this reason"),
        color=alt.Color("direction:N", title=None,
                        scale=alt.Scale(domain=["adds points", "takes points off"],
                                        range=["#4c78a8", "#e45756"]),
                        legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("reason:N", title="Reason"),
                 alt.Tooltip("leads:Q", title="Leads", format=","),
                 alt.Tooltip("mean_points:Q", title="Mean points", format=".1f")],
    ).properties(width=WIDTH - 200, height=HEIGHT))
    return chart


def categories(data: ReportData) -> Chart:
    chart = Chart("categories", "Category interest",
                  "Leads with signals in each product category, and those for whom it is the "
                  "top category.")
    if data.categories.empty:
        chart.note = ("No category interest: the shop has no product-category signals "
                      "(no events with a product category before as_of).")
        return chart
    frame = data.categories.melt(
        id_vars=["product_category", "mean_interest_score"],
        value_vars=["leads_interested", "top_category_leads"], var_name="measure",
        value_name="leads")
    frame["measure"] = frame["measure"].map({"leads_interested": "interested",
                                             "top_category_leads": "top category"})
    order = list(dict.fromkeys(data.categories["product_category"].astype(str)))
    chart.spec = _spec(alt.Chart(frame).mark_bar().encode(
        y=alt.Y("product_category:N", sort=order, title=None, axis=alt.Axis(labelLimit=200)),
        yOffset=alt.YOffset("measure:N", sort=["interested", "top category"]),
        x=alt.X("leads:Q", title="Leads"),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("product_category:N", title="Category"),
                 alt.Tooltip("measure:N", title="Leads"),
                 alt.Tooltip("leads:Q", title="Count", format=","),
                 alt.Tooltip("mean_interest_score:Q", title="Mean interest (0-100)")],
    ).properties(width=WIDTH - 160, height=HEIGHT))
    return chart


def quarantine(data: ReportData) -> Chart:
    chart = Chart("quarantine", "Quarantine of the run",
                  "Rows the publishing run's load quarantined, by entity and reason.")
    summary = data.summary
    if summary is None:
        chart.note = ("No run summary (run_summary.json) in the serving folder: the "
                      "quarantine of the run is unknown.")
        return chart
    section = summary.get("quarantine") or {}
    rows = pd.DataFrame(section.get("this_run") or [], columns=["entity", "reason", "rows"])
    all_time = _count(section.get("all_time_rows"))
    chart.caption = (f"Rows run {summary.get('run_id')} quarantined, by entity and reason "
                     f"({_count(section.get('this_run_rows'))} rows; {all_time} in all loads "
                     "so far).")
    if rows.empty:
        loaded = (summary.get("load") or {}).get("rows")
        chart.note = (f"This run quarantined no row ({_count(loaded)} rows loaded; "
                      f"{all_time} quarantined in all loads so far).")
        return chart
    order = list(dict.fromkeys(rows["reason"].astype(str)))
    chart.spec = _spec(alt.Chart(rows).mark_bar().encode(
        y=alt.Y("reason:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("sum(rows):Q", title="Rows quarantined"),
        color=alt.Color("entity:N", title="Entity", legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("entity:N", title="Entity"), alt.Tooltip("reason:N", title="Reason"),
                 alt.Tooltip("sum(rows):Q", title="Rows", format=",")],
    ).properties(width=WIDTH - 200, height=max(80, 22 * len(order))))
    return chart


BUILDERS = [score_distribution, grid_leads, grid_conversion, funnel, deciles, calibration,
            movement, reasons, categories, quarantine]


def build_all(data: ReportData) -> list[Chart]:
    return [builder(data) for builder in BUILDERS]
