"""Serving folders of several shop shapes for the score report's tests, written directly
(no dbt run): serving.duckdb with the mart columns the report reads, manifest.json,
run_summary.json and, optionally, a backtest result.

Shapes: ``full`` (profiles, events and orders, a previous publication, a backtest with
the purchase probability), ``events_only`` (no orders: no customers, no backtest, the
first publication) and ``orders_only`` (no events: no category interest). ``hostile``
puts markup and script in every text that comes from the data.
"""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path

import duckdb

HOSTILE_CATEGORY = '</script><script>window.__pwned = "category"</script><img src=x onerror="window.__pwned=1">'
HOSTILE_REASON = '<b onmouseover="window.__pwned=2">Bold</b> & "quoted"'
HOSTILE_FILE = 'orders/2026-11-01.csv"><script>window.__pwned=3</script>'
HOSTILE_STAGE_LABEL = "Known <i>lead</i> </style><script>window.__pwned=4</script>"

STAGES = [("repeat_customer", "Repeat customer"), ("customer", "Customer"),
          ("cart_abandoner", "Cart abandoner"), ("marketing_qualified", "Marketing-qualified lead"),
          ("engaged", "Engaged lead"), ("known_lead", "Known lead"),
          ("anonymous_visitor", "Anonymous visitor")]
BUYER_STAGES = {"repeat_customer", "customer"}


def _reasons(rng: random.Random, shape: str, hostile: bool) -> str:
    rules = []
    if shape != "orders_only":
        rules += [("Product pages", 1), ("Visited often this week", 1), ("Opened e-mails", 1),
                  ("Unsubscribed", -1)]
    if shape != "events_only":
        rules += [("Bought twice or more", 1), ("Refunded an order", -1)]
    if hostile:
        rules.append((HOSTILE_REASON, 1))
    chosen = rng.sample(rules, k=min(3, len(rules)))
    return " ".join(f"{label} added {rng.uniform(0.5, 20):.1f} points." if sign > 0
                    else f"{label} took {rng.uniform(0.5, 8):.1f} points off."
                    for label, sign in chosen)


def make_serving(folder: Path, shape: str = "full", hostile: bool = False, leads: int = 400,
                 seed: int = 3) -> tuple[Path, Path]:
    """Write a serving folder (and a backtest folder beside it); returns both paths."""
    rng = random.Random(seed)
    serving_dir, backtest_dir = folder / "serving", folder / "backtest"
    serving_dir.mkdir(parents=True)
    backtest_dir.mkdir()
    as_of, previous_as_of = "2026-12-01 00:00:00", "2026-11-30 00:00:00"
    first_publication = shape == "events_only"
    stages = [s for s in STAGES if shape != "events_only" or s[0] not in BUYER_STAGES]
    if shape == "orders_only":
        stages = [s for s in stages if s[0] in BUYER_STAGES | {"anonymous_visitor"}]
    categories = ["shoes", "outdoor", "kitchen", "toys"] + ([HOSTILE_CATEGORY] if hostile else [])
    score_rows, interest_rows = [], []
    for i in range(leads):
        lead = f"L{i:05d}"
        score = max(0, min(100, int(rng.gauss(40, 22))))
        grade, tier = rng.choice("ABCD"), rng.randint(1, 4)
        stage, label = rng.choice(stages)
        if hostile and stage == "known_lead":
            label = HOSTILE_STAGE_LABEL
        previous = None if first_publication or i % 7 == 0 else max(0, score - rng.randint(-15, 15))
        score_rows.append((lead, as_of, score, grade, tier, f"{grade}{tier}", stage, label,
                           _reasons(rng, shape, hostile),
                           None if previous is None else score - previous, previous,
                           None if previous is None else previous_as_of))
        if shape != "orders_only":
            for rank, category in enumerate(rng.sample(categories, k=rng.randint(1, 3)), 1):
                interest_rows.append((lead, as_of, category, rank, rng.randint(1, 100)))
    database = serving_dir / "serving.duckdb"
    with contextlib.closing(duckdb.connect(str(database))) as con:
        con.execute("""
            create table lead_scores (
                lead_id varchar, as_of timestamp, lead_score integer, fit_grade varchar,
                engagement_tier integer, score_cell varchar, lifecycle_stage varchar,
                lifecycle_stage_label varchar, score_reasons varchar, score_change integer,
                previous_lead_score integer, previous_as_of timestamp)""")
        if score_rows:
            con.executemany("insert into lead_scores values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            score_rows)
        con.execute("""
            create table lead_category_interest (
                lead_id varchar, as_of timestamp, product_category varchar,
                interest_rank integer, interest_score integer)""")
        if interest_rows:
            con.executemany("insert into lead_category_interest values (?, ?, ?, ?, ?)",
                            interest_rows)
        con.execute("create table lead_score_history as "
                    "select lead_id, as_of, lead_score from lead_scores")
    manifest = {"as_of": as_of, "published_at": "2026-12-01T06:00:00Z",
                "row_counts": {"lead_scores": leads}, "files": {},
                "warehouse": str(folder / "warehouse.duckdb"), "run_id": "run-1"}
    (serving_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    entity = "events" if shape == "events_only" else "orders"
    summary = {
        "run_id": "run-1", "as_of": as_of,
        "load": {"rows": 12000, "files": 3},
        "quarantine": {
            "this_run": [{"entity": entity, "reason": "unparseable_timestamp", "rows": 12},
                         {"entity": entity,
                          "reason": HOSTILE_FILE if hostile else "missing_id", "rows": 4}],
            "this_run_rows": 16, "all_time": [], "all_time_rows": 40},
        "checks": {
            "gx": [{"check": "gx_landing_batches", "title": "Landing gate (GX)", "passed": True,
                    "expectations_met": 30, "expectations_evaluated": 31,
                    "files_validated": 3, "shop_feeds": {},
                    "warnings": [f"{HOSTILE_FILE if hostile else 'orders/a.csv'}: 2 duplicate ids"],
                    "not_run": [], "blocking_failures": []},
                   {"check": "gx_lead_scores", "title": "Mart gate (GX)", "passed": True,
                    "expectations_met": 12, "expectations_evaluated": 12,
                    "files_validated": None, "shop_feeds": {}, "warnings": [],
                    "not_run": ["grade share: the shop has no profiles"] if shape == "orders_only"
                    else [], "blocking_failures": []}],
            "dbt_tests": {"defined": 180, "run": 180, "passed": 180, "failed": []}},
    }
    (serving_dir / "run_summary.json").write_text(json.dumps(summary), encoding="utf-8")
    if shape == "full":
        write_backtest(backtest_dir, rng)
    return serving_dir, backtest_dir


def write_backtest(backtest_dir: Path, rng: random.Random, probability: bool = True,
                   cells: bool = True) -> Path:
    rate = 0.08
    deciles = [{"decile": d, "leads": 40.0, "converters": float(20 - 2 * d),
                "conversion_rate": (20 - 2 * d) / 40, "min_score": float(100 - 10 * d),
                "mean_score": float(105 - 10 * d)} for d in range(1, 11)]
    result = {
        "as_of": "2026-11-01 00:00:00", "horizon_days": 30, "outcome_source": "orders in x",
        "leads": 400, "converters": 32, "conversion_rate": rate, "top_decile_lift": 5.6,
        "auc": {"lead_score": 0.81}, "deciles": deciles, "stages": [], "covered_days": 30,
        "warnings": [], "propensity": None,
        "cells": [{"fit_grade": g, "engagement_tier": t, "score_cell": f"{g}{t}", "leads": 25,
                   "converters": c, "conversion_rate": c / 25}
                  for g in "ABCD" for t in (1, 2, 3, 4)
                  for c in [max(0, 12 - 3 * "ABCD".index(g) - 2 * t)]] if cells else [],
    }
    if probability:
        result["propensity"] = {"method": "model", "model_version": "m1", "notes": [],
                                "rankings": {"purchase_probability": {
                                    "calibration_deciles": [
                                        {"decile": d, "rows": 40, "predicted": 0.3 / d,
                                         "observed": 0.3 / d + rng.uniform(-0.02, 0.02)}
                                        for d in range(1, 11)]}}}
    path = backtest_dir / "backtest-2026-11-01.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    return path
