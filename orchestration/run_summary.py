"""The summary of one refresh: what this run loaded, quarantined, scored, checked and
published, for the person who started it and for monitoring.

The ``run_summary`` step of the refresh job (:mod:`orchestration.assets`) builds it from
the run's own Dagster events (the landing load, every check) and the warehouse, and
writes it as ``run_summary.json`` beside the serving manifest, so a scheduled or UI run
leaves one too. ``leadscore run`` prints it as text (:func:`format_text`).

What it holds (keys of the JSON):

- ``load``: files and rows loaded by this run, per entity;
- ``quarantine``: rows quarantined by this run's load, by reason (``this_run``), and over
  every load so far (``all_time``), labelled as such;
- ``leads``: leads scored, new since the last published run, the biggest score movers and
  the lifecycle stage changes since then;
- ``checks``: the GX gates' results and the dbt tests passed of the number dbt runs (and
  ``not_run``: left out since nothing they read changed, orchestration/refresh_selection.py);
- ``top_leads`` (with readable labels) and ``campaigns``: leads per recommended action,
  split by whether they may be contacted;
- ``serving``: the published files and their row counts; ``steps``: seconds per step;
- ``report``: the score report the run wrote (added by its last step, :func:`add_report`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from orchestration import pipeline, serving
from orchestration.config import Settings

SUMMARY_NAME = "run_summary.json"
#: How many movers, top leads and stage changes the summary lists.
TOP = 10
MOVERS = 5
GX_CHECK_TITLES = {"gx_landing_batches": "Landing gate (GX)", "gx_lead_scores": "Mart gate (GX)"}


def summary_path(serving_dir: Path) -> Path:
    return serving_dir / SUMMARY_NAME


def read(serving_dir: Path) -> dict[str, Any] | None:
    path = summary_path(serving_dir)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write(summary: dict[str, Any], serving_dir: Path) -> Path:
    """Write atomically (a monitor never reads half a file)."""
    serving_dir.mkdir(parents=True, exist_ok=True)
    path = summary_path(serving_dir)
    tmp = path.with_name(f".{SUMMARY_NAME}.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def add_report(serving_dir: Path, run_id: str, report: Any) -> None:
    """Add the score report the run wrote (:class:`orchestration.report.Report`) to its
    summary (key ``report``: path, bytes, charts drawn, notes); a summary of another run
    is left alone."""
    summary = read(serving_dir)
    if summary is None or summary.get("run_id") != run_id:
        return
    summary["report"] = {"path": str(report.path), "size_bytes": report.size_bytes,
                         "charts": list(report.charts), "notes": dict(report.notes)}
    write(summary, serving_dir)


# ------------------------------------------------------------------ from the run's events


def _value(metadata_value: Any) -> Any:
    return getattr(metadata_value, "value", metadata_value)


def run_events(instance: Any, run_id: str) -> dict[str, Any]:
    """This run's landing materialization metadata, check evaluations and step seconds,
    read from the Dagster instance (the same for CLI, UI and scheduled runs)."""
    from dagster import DagsterEventType

    kinds = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_CHECK_EVALUATION,
             DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
    landing: dict[str, Any] = {}
    checks: list[dict[str, Any]] = []
    started: dict[str, float] = {}
    steps: dict[str, float] = {}
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        data = event.event_specific_data
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = data.materialization
            if materialization.asset_key.path == ["landing"]:
                landing = {k: _value(v) for k, v in materialization.metadata.items()}
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            checks.append({
                "asset": data.asset_key.to_user_string(),
                "check": data.check_name,
                "passed": bool(data.passed),
                "description": data.description or "",
                "metadata": {k: _value(v) for k, v in (data.metadata or {}).items()},
            })
        elif event.event_type == DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.step_key in started:
            steps[event.step_key] = round(entry.timestamp - started[event.step_key], 1)
    return {"landing": landing, "checks": checks, "steps": steps}


def _load_section(landing: dict[str, Any]) -> dict[str, Any]:
    per_entity: dict[str, dict[str, int]] = {}
    for item in landing.get("files") or []:
        entry = per_entity.setdefault(item["entity"], {"files": 0, "rows": 0})
        entry["files"] += 1
        entry["rows"] += int(item["rows"])
    batch = landing.get("batch_id")
    return {
        "batch_id": None if batch in (None, -1) else int(batch),
        "files": sum(e["files"] for e in per_entity.values()),
        "rows": sum(e["rows"] for e in per_entity.values()),
        "by_entity": dict(sorted(per_entity.items())),
        # landing rows of people erased on request, dropped at load (orchestration.privacy)
        "dropped_erased_rows": int(landing.get("rows_dropped_erased") or 0),
    }


def _checks_section(checks: Iterable[dict[str, Any]], dbt_test_count: int) -> dict[str, Any]:
    gx, dbt_failed, dbt_passed, dbt_not_run = [], [], 0, 0
    for check in checks:
        meta = check["metadata"]
        if check["check"].startswith("gx_"):
            gx.append({
                "check": check["check"],
                "title": GX_CHECK_TITLES.get(check["check"], check["check"]),
                "asset": check["asset"],
                "passed": check["passed"],
                "expectations_met": int(meta.get("expectations_met") or 0),
                "expectations_evaluated": int(meta.get("expectations_evaluated") or 0),
                "files_validated": meta.get("files_validated"),
                "warnings": list(meta.get("warnings") or []),
                "not_run": list(meta.get("not_run") or []),
                "shop_feeds": meta.get("shop_feeds") or {},
                "blocking_failures": list(meta.get("blocking_failures") or []),
            })
        elif meta.get("dbt_test_run") is False:  # left out: nothing it reads changed
            dbt_not_run += 1
        elif check["passed"]:
            dbt_passed += 1
        else:
            dbt_failed.append({"asset": check["asset"], "check": check["check"],
                               "description": check["description"]})
    return {
        "gx": gx,
        # not_run: tests a refresh left out since nothing they read changed since they
        # passed (LEADSCORE_REFRESH_TESTS=changed, orchestration/refresh_selection.py)
        "dbt_tests": {"defined": dbt_test_count, "run": dbt_passed + len(dbt_failed),
                      "passed": dbt_passed, "failed": dbt_failed, "not_run": dbt_not_run},
    }


# --------------------------------------------------------------------- from the warehouse


def _exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, table = relation.split(".")
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table]).fetchone()[0])


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
             ) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _quarantine(con: duckdb.DuckDBPyConnection, batch_id: int | None) -> dict[str, Any]:
    if not _exists(con, "quarantine.quarantined_rows"):
        return {"this_run": [], "this_run_rows": 0, "all_time": [], "all_time_rows": 0}
    by_reason = ("select entity, reason, count(*) as rows from quarantine.quarantined_rows "
                 "{where} group by all order by entity, rows desc, reason")
    this_run = _records(con, by_reason.format(where="where batch_id = ?"), [batch_id]) \
        if batch_id is not None else []
    all_time = _records(con, by_reason.format(where=""))
    return {
        "this_run": this_run, "this_run_rows": sum(r["rows"] for r in this_run),
        "all_time": all_time, "all_time_rows": sum(r["rows"] for r in all_time),
    }


def _leads(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    if not _exists(con, "marts.lead_scores"):
        return {"scored": 0}
    scored, new, previous_as_of = con.execute(
        "select count(*), count(*) filter (where previous_as_of is null), "
        "cast(max(previous_as_of) as varchar) from marts.lead_scores").fetchone()
    movers = _records(con, f"""
        select lead_id, previous_lead_score, lead_score, score_change,
               lifecycle_stage_label, recommended_action_label
        from marts.lead_scores where score_change is not null and score_change <> 0
        order by abs(score_change) desc, lead_id limit {MOVERS * 2}""")
    stage_changes: list[dict[str, Any]] = []
    if _exists(con, "marts.lead_score_history"):
        stage_changes = _records(con, f"""
            select coalesce(before_label.label, history.lifecycle_stage) as from_stage,
                   scores.lifecycle_stage_label as to_stage, count(*) as leads
            from marts.lead_scores as scores
            inner join marts.lead_score_history as history
                on history.lead_id = scores.lead_id and history.as_of = scores.previous_as_of
            left join rules.lifecycle_stages as before_label
                on before_label.lifecycle_stage = history.lifecycle_stage
            where history.lifecycle_stage <> scores.lifecycle_stage
            group by all order by leads desc, from_stage, to_stage limit {TOP}""")
    return {"scored": scored, "new_since_last_publication": new,
            "previous_as_of": previous_as_of, "score_movers": movers,
            "stage_changes": stage_changes}


def _top_and_campaigns(con: duckdb.DuckDBPyConnection) -> tuple[list[dict], list[dict]]:
    if not _exists(con, "marts.lead_scores"):
        return [], []
    top = _records(con, f"""
        select lead_id, lead_score, purchase_probability, score_cell, lifecycle_stage_label,
               top_category, recommended_action_label
        from marts.lead_scores order by lead_score desc, lead_id limit {TOP}""")
    campaigns = _records(con, """
        select recommended_action, recommended_action_label, recommended_channel,
               count(*) filter (where is_contactable) as contactable,
               count(*) filter (where not is_contactable) as not_contactable,
               count(*) as leads
        from marts.lead_scores group by all order by leads desc, recommended_action""")
    return top, campaigns


def _campaign_audiences(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per campaign of rules/campaigns with an audience: leads to send, control leads,
    and the pooled uplift of its closed weeks (marts.campaign_results), when measured."""
    if not _exists(con, "marts.campaign_audiences"):
        return []
    results = _exists(con, "marts.campaign_results")
    measured = ("left join marts.campaign_results as results "
                "on results.campaign_id = audiences.campaign_id and results.is_overall") if results else ""
    uplift = ("max(results.uplift) as uplift, max(results.uplift_ci_low) as uplift_ci_low, "
              "max(results.uplift_ci_high) as uplift_ci_high") if results else (
              "null as uplift, null as uplift_ci_low, null as uplift_ci_high")
    return _records(con, f"""
        select audiences.campaign_id, campaigns.campaign_name, audiences.channel,
               min(audiences.priority) as priority,
               count(*) filter (where not audiences.is_control) as to_send,
               count(*) filter (where audiences.is_control) as control,
               {uplift}
        from marts.campaign_audiences as audiences
        left join rules.campaigns as campaigns on campaigns.campaign_id = audiences.campaign_id
        {measured}
        group by all order by priority, audiences.campaign_id""")


def _predictive(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The purchase probability beside the rule score: which method, which model, the
    mean, and the expected orders and value of the customers."""
    if not _exists(con, "marts.lead_scores"):
        return {}
    methods = dict(con.execute(
        "select propensity_method, count(*) from marts.lead_scores group by all").fetchall())
    row = con.execute("""
        select max(model_version), avg(purchase_probability),
               sum(expected_orders), sum(expected_value_eur),
               count(*) filter (where expected_orders is not null),
               corr(purchase_probability, lead_score)
        from marts.lead_scores""").fetchone()
    return {"methods": methods, "model_version": row[0], "mean_probability": row[1],
            "expected_orders": row[2], "expected_value_eur": row[3],
            "customers_valued": row[4], "correlation_with_lead_score": row[5]}


def _plain(value: Any) -> Any:
    """JSON-ready values (DuckDB gives Decimals and datetimes)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if type(value).__name__ == "Decimal":
        return float(value)
    return value


def build(settings: Settings, events: dict[str, Any], *, run_id: str, as_of: str,
          dbt_test_count: int) -> dict[str, Any]:
    """The summary of run ``run_id`` (its events from :func:`run_events`)."""
    load = _load_section(events["landing"])
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        quarantine = _quarantine(con, load["batch_id"])
        leads = _leads(con)
        top, campaigns = _top_and_campaigns(con)
        audiences = _campaign_audiences(con)
        predictive = _predictive(con)
    manifest = serving.read_manifest(settings.serving_dir) or {}
    return _plain({
        "run_id": run_id,
        "as_of": as_of,
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "warehouse": str(settings.duckdb_path),
        "load": load,
        "quarantine": quarantine,
        "leads": leads,
        "checks": _checks_section(events["checks"], dbt_test_count),
        "predictive": predictive,
        "top_leads": top,
        "campaigns": campaigns,
        "campaign_audiences": audiences,
        "serving": {
            "dir": str(settings.serving_dir),
            "files": [str(settings.serving_dir / serving.PARQUET_NAME),
                      str(settings.serving_dir / serving.DUCKDB_NAME),
                      str(serving.manifest_path(settings.serving_dir)),
                      str(summary_path(settings.serving_dir))],
            "published_at": manifest.get("published_at"),
            "as_of": manifest.get("as_of"),
            "row_counts": manifest.get("row_counts") or {},
        },
        "steps": events["steps"],
        "quality_page": str(settings.gx_docs_dir / "index.html")
        if (settings.gx_docs_dir / "index.html").exists() else None,
    })


# ------------------------------------------------------------------------------- text


def _n(value: Any) -> str:
    return f"{int(value or 0):,}"


def _by_reason(rows: list[dict[str, Any]]) -> list[str]:
    lines, entities = [], {}
    for row in rows:
        entities.setdefault(row["entity"], []).append(f"{row['reason']} {_n(row['rows'])}")
    for entity, reasons in entities.items():
        lines.append(f"    {entity}: {', '.join(reasons)}")
    return lines


def _table(header: list[str], rows: list[list[Any]], right: set[int]) -> list[str]:
    cells = [[("" if v is None else str(v)) for v in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return ["  " + "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(row, widths))).rstrip()
            for row in cells]


def _checks_text(checks: dict[str, Any], verbose: bool) -> list[str]:
    lines = ["Checks:"]
    for gx in checks["gx"]:
        state = "passed" if gx["passed"] else "FAILED"
        detail = f"{gx['expectations_met']}/{gx['expectations_evaluated']} expectations met"
        if gx["files_validated"] is not None:
            detail = f"{gx['files_validated']} new file(s), {detail}, " \
                     f"{len(gx['warnings'])} warning(s)"
        fed = [name for name, on in gx["shop_feeds"].items() if on]
        if gx["shop_feeds"]:
            detail += f" (shop feeds {', '.join(fed) or 'nothing'})"
        lines.append(f"  {gx['title']}: {state}; {detail}")
        shown = gx["warnings"] if verbose else gx["warnings"][:5]
        lines += [f"    - {w}" for w in shown]
        if len(gx["warnings"]) > len(shown):
            lines.append(f"    ... and {len(gx['warnings']) - len(shown)} more "
                         "(leadscore -v run, or the quality page)")
        lines += [f"    - not run: {reason}" for reason in gx["not_run"]]
        lines += [f"    - {failure}" for failure in gx["blocking_failures"]]
    tests = checks["dbt_tests"]
    if tests.get("not_run"):
        lines.append(f"  dbt tests: {tests['passed']:,} of {tests['run']:,} run passed, "
                     f"{len(tests['failed'])} failed; {tests['not_run']:,} of "
                     f"{tests['defined']:,} not run: nothing they read changed since they "
                     "passed (LEADSCORE_REFRESH_TESTS=all runs them all)")
    else:
        lines.append(f"  dbt tests: {tests['passed']:,} of {tests['defined']:,} passed, "
                     f"{len(tests['failed'])} failed")
    lines += [f"    - FAILED {t['asset']}: {t['check']} {t['description']}".rstrip()
              for t in tests["failed"]]
    return lines


def _probability(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1%}"


def _predictive_text(predictive: dict[str, Any]) -> list[str]:
    methods = predictive.get("methods") or {}
    if not methods:
        return []
    if set(methods) == {"unavailable"}:
        return ["Purchase probability: unavailable (no model trained yet: `leadscore train`, "
                "or let the refresh train one: LEADSCORE_TRAIN_IF_MISSING).", ""]
    used = ", ".join(f"{method} {_n(n)}" for method, n in sorted(methods.items()))
    lines = [f"Purchase probability (model {predictive['model_version']}; leads per method: "
             f"{used}): mean {_probability(predictive['mean_probability'])}"
             + (f", correlation with the rule score {predictive['correlation_with_lead_score']:.2f}"
                if predictive.get("correlation_with_lead_score") is not None else "") + "."]
    if predictive.get("customers_valued"):
        lines.append(f"  Customers ({_n(predictive['customers_valued'])}): "
                     f"{float(predictive['expected_orders'] or 0):,.0f} orders expected in the "
                     f"horizon, worth EUR {float(predictive['expected_value_eur'] or 0):,.0f}.")
    return lines + [""]


def format_text(summary: dict[str, Any], verbose: bool = False,
                rows_per_layer: list[tuple[str, int]] | None = None) -> str:
    load, quarantine, leads = summary["load"], summary["quarantine"], summary["leads"]
    lines: list[str] = []
    if load["files"]:
        entities = ", ".join(f"{entity} {_n(e['rows'])} in {e['files']} file(s)"
                             for entity, e in load["by_entity"].items())
        lines.append(f"Loaded now: {_n(load['rows'])} rows from {load['files']} new "
                     f"file(s) ({entities}).")
    else:
        lines.append("Loaded now: nothing (no new landing files).")
    if load.get("dropped_erased_rows"):
        lines.append(f"  Dropped at load: {_n(load['dropped_erased_rows'])} row(s) of people "
                     "erased on request (`leadscore erase`; counted, not kept).")
    lines.append(f"  Quarantined now: {_n(quarantine['this_run_rows'])} row(s)"
                 + (" by reason:" if quarantine["this_run"] else "."))
    lines += _by_reason(quarantine["this_run"])
    lines.append(f"  Quarantined in all loads so far (all time): "
                 f"{_n(quarantine['all_time_rows'])} row(s)"
                 + (", by reason:" if verbose and quarantine["all_time"] else "."))
    if verbose:
        lines += _by_reason(quarantine["all_time"])
    lines.append("")

    if leads.get("scored"):
        if leads["previous_as_of"] is None:
            lines.append(f"Leads: {_n(leads['scored'])} scored (the first publication: "
                         "every lead is new).")
        else:
            lines.append(f"Leads: {_n(leads['scored'])} scored, "
                         f"{_n(leads['new_since_last_publication'])} new since the last "
                         f"published run (as_of {leads['previous_as_of']}).")
            movers = leads["score_movers"]
            if movers:
                lines.append("  Biggest score movers since then:")
                lines += _table(
                    ["lead", "before", "now", "change", "stage", "next action"],
                    [[m["lead_id"], m["previous_lead_score"], m["lead_score"],
                      f"{m['score_change']:+d}", m["lifecycle_stage_label"],
                      m["recommended_action_label"]] for m in movers[:MOVERS]],
                    right={1, 2, 3})
            else:
                lines.append("  No lead's score moved since then.")
            changes = leads["stage_changes"]
            if changes:
                lines.append("  Lifecycle stage changes since then (leads):")
                shown = changes if verbose else changes[:MOVERS]
                lines += [f"    {c['from_stage']} -> {c['to_stage']}: {_n(c['leads'])}"
                          for c in shown]
        lines.append("")

    lines += _checks_text(summary["checks"], verbose)
    if summary.get("quality_page"):
        lines.append(f"  Quality page (GX results, offline): {summary['quality_page']}")
    lines.append("")

    lines += _predictive_text(summary.get("predictive") or {})
    if summary["top_leads"]:
        lines.append("Top leads (score: the rule score; p(buy): the purchase probability in "
                     "the horizon):")
        lines += _table(
            ["lead", "score", "p(buy)", "cell", "stage", "top category", "next action"],
            [[t["lead_id"], t["lead_score"], _probability(t.get("purchase_probability")),
              t["score_cell"], t["lifecycle_stage_label"], t["top_category"],
              t["recommended_action_label"]] for t in summary["top_leads"]],
            right={1, 2})
        lines.append("")
    if summary["campaigns"]:
        lines.append("Campaigns: leads per recommended action (contactable = marketing "
                     "consent and a working e-mail address):")
        lines += _table(
            ["next action", "channel", "contactable", "not contactable"],
            [[c["recommended_action_label"], c["recommended_channel"], _n(c["contactable"]),
              _n(c["not_contactable"])] for c in summary["campaigns"]],
            right={2, 3})
        lines.append("")
    if summary.get("campaign_audiences"):
        lines.append("Campaign audiences (one campaign per lead, exported to audiences/<campaign>.csv; "
                     "control = held out; uplift: measured on the sends of closed weeks, 95 % interval):")
        lines += _table(
            ["campaign", "channel", "to send", "control", "uplift"],
            [[c["campaign_name"] or c["campaign_id"], c["channel"], _n(c["to_send"]), _n(c["control"]),
              "" if c.get("uplift") is None else
              f"{c['uplift']:+.1%} [{c['uplift_ci_low']:+.1%}, {c['uplift_ci_high']:+.1%}]"]
             for c in summary["campaign_audiences"]],
            right={2, 3})
        lines.append("")

    serving_info = summary["serving"]
    if serving_info.get("published_at"):
        counts = ", ".join(f"{t} {_n(n)}" for t, n in serving_info["row_counts"].items())
        lines.append(f"Serving layer for BI tools (as_of {serving_info['as_of']}, published "
                     f"{serving_info['published_at']}; {counts}):")
        lines += [f"  {path}" for path in serving_info["files"]]
    if summary.get("report"):
        written = summary["report"]
        lines.append(f"Score report (one page, works offline; `leadscore report` rebuilds it): "
                     f"{written['path']} ({written['size_bytes'] / 1e6:.2f} MB)")
    if verbose and rows_per_layer:
        lines += ["", f"Rows per layer in the warehouse {summary['warehouse']}:"]
        width = max(len(name) for name, _ in rows_per_layer)
        lines += [f"  {name:<{width}}  {count:>12,}" for name, count in rows_per_layer]
    return "\n".join(lines)
