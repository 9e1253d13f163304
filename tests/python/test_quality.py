"""The GX quality gates on small hand-made and generated batches (no dbt needed)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from fixtures_orchestration import (  # noqa: F401  (fixtures)
    Workspace,
    generate_landing,
    orchestration_session,
    workspace,
)

from orchestration import pipeline
from orchestration.landing import discover, file_relation
from orchestration.quality import QualityGateFailed
from orchestration.quality.landing_suite import MIN_ROWS_FOR_SHARE, LandingGate, gate_frame
from orchestration.quality.mart_suite import MartBatch, ShopShape, read_mart, validate_mart
from orchestration.quality.reference import fit_grades, lifecycle_stages, recommended_actions

EVENT_HEADER = "event_id,occurred_at,lead_id,anonymous_id,event_type\n"


def write_events(path: Path, good: int, bad: int, start: int = 0) -> Path:
    """``good`` valid events and ``bad`` events with an unknown type (quarantined by staging)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"e{start + i},2024-06-01T10:00:00+02:00,L{i % 7},,page_view\n" for i in range(good)]
    rows += [f"x{start + i},2024-06-01T10:00:00Z,L1,,hover\n" for i in range(bad)]
    path.write_text(EVENT_HEADER + "".join(rows), encoding="utf-8")
    return path


def landing_counts(settings) -> dict[str, int]:
    """Rows per landing table (all 0 when the load never committed its tables)."""
    with contextlib.closing(pipeline.connect(settings, read_only=True)) as con:
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'landing'"
        ).fetchone()[0]
        if not exists:
            return dict.fromkeys(("events", "leads", "orders", "_files"), 0)
        return {
            entity: con.execute(f"select count(*) from landing.{entity}").fetchone()[0]
            for entity in ("events", "leads", "orders", "_files")
        }


# ------------------------------------------------------------------------ landing gate


def test_gate_frame_judges_rows_like_staging(workspace: Workspace) -> None:
    path = workspace.landing_dir / "orders" / "o.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "order_id,lead_id,ordered_at,amount,currency,status\n"
        "o1,L1,2024-06-01T10:00:00+02:00, 12.50 ,eur,Completed\n"
        "o2,L1,2024-06-01,-3,EUR,\n"
        "o3,L2,yesterday,1,EUR,\n"
        "o4,L2,2024-06-01,n/a,EUR,\n"
        "o5,,2024-06-01,1,EUR,\n"
        "o6,L3,2024-06-01,1,XXX,\n"
        "o7,L3,2024-06-01,1,EUR,shipped_maybe\n",
        encoding="utf-8",
    )
    gate = LandingGate(workspace.settings())
    (file,) = discover(workspace.landing_dir)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    batch = gate_frame("orders", file_relation(con, file), gate.rules["orders"])
    frame = batch.frame
    reasons = dict(zip(frame["_source_row"], frame["quarantine_reason"].fillna("ok")))
    assert reasons == {
        1: "ok",
        2: "negative_amount",
        3: "unparseable_timestamp",
        4: "non_numeric_amount",
        5: "missing_lead_id",
        6: "unknown_currency",
        7: "unknown_status",
    }
    assert frame.loc[0, "ordered_at"] == pd.Timestamp("2024-06-01 08:00:00")  # +02:00 -> UTC
    assert frame.loc[0, "amount"] == 12.5 and frame.loc[0, "currency"] == "EUR"
    assert frame.loc[2, "ordered_at__invalid"] == "yesterday"
    assert batch.rows == 7 and sum(batch.reasons.values()) == 6
    assert (frame["file_quarantine_share"].isna()).all()  # 7 rows: too few to judge a share


def test_gate_judges_large_files_on_a_hashed_sample(workspace: Workspace) -> None:
    path = workspace.landing_dir / "orders" / "big.csv"
    path.parent.mkdir(parents=True)
    rows = [f"o{i},L{i},2024-06-01,{-1 if i % 4 == 0 else 1},EUR," for i in range(1, 1001)]
    path.write_text("order_id,lead_id,ordered_at,amount,currency,status\n" + "\n".join(rows) + "\n")
    gate = LandingGate(workspace.settings())
    (file,) = discover(workspace.landing_dir)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    full = gate_frame("orders", file_relation(con, file), gate.rules["orders"])
    sampled = gate_frame("orders", file_relation(con, file), gate.rules["orders"], max_rows=100)
    again = gate_frame("orders", file_relation(con, file), gate.rules["orders"], max_rows=100)
    assert len(full.frame) == 1000 and 50 <= len(sampled.frame) <= 160
    assert sampled.frame["_source_row"].tolist() == again.frame["_source_row"].tolist()  # the same rows
    share = sampled.frame["quarantine_reason"].notna().mean()
    assert abs(share - full.frame["quarantine_reason"].notna().mean()) < 0.1  # no aliasing
    # the blocking share and the reason counts are exact whatever the sample
    assert sampled.rows == 1000 and sampled.reasons == {"negative_amount": 250}
    assert [(s.batch, s.rows, s.quarantined) for s in sampled.shares] == [("orders/big.csv", 1000, 250)]
    assert set(sampled.frame["file_quarantine_share"]) == {0.25}


def test_trickle_of_bad_rows_is_reported_and_loaded(workspace: Workspace) -> None:
    write_events(workspace.landing_dir / "events" / "day1.csv", good=95, bad=5)
    settings = workspace.settings()
    gate = LandingGate(settings)
    load = pipeline.load_landing(settings, inspect=gate)
    assert load.total_rows == 100
    (report,) = gate.reports
    assert report.passed
    warning = [o for o in report.warnings if o.column == "event_type"]
    assert warning and "'hover'" in warning[0].describe() and "row 96" in warning[0].describe()
    assert report.extra["would_quarantine"] == {"unknown_event_type": 5}
    docs = gate.build_docs()
    assert docs is not None and docs.exists() and (settings.gx_docs_dir / "index.html").exists()


def test_flood_of_bad_rows_stops_the_load_and_says_why(workspace: Workspace) -> None:
    write_events(workspace.landing_dir / "events" / "a_good.csv", good=60, bad=0)
    write_events(workspace.landing_dir / "events" / "b_flood.csv", good=30, bad=30, start=100)
    settings = workspace.settings()
    gate = LandingGate(settings)
    with pytest.raises(QualityGateFailed) as caught:
        pipeline.load_landing(settings, inspect=gate)
    message = str(caught.value)
    # one statement first: what, where, why; then the reasons with rows; then what to do
    first = message.splitlines()[0]
    assert first.startswith("more than 20% of the rows of 1 events file(s) would be quarantined")
    assert "LEADSCORE_MAX_QUARANTINE_SHARE" in first and "nothing of it was kept" in first
    assert "events/b_flood.csv: 30 of 60 rows (50.0%) would be quarantined" in message
    assert "a_good.csv:" not in message
    assert "unknown_event_type" in message and "30  e.g. event_type 'hover' (file " \
        "events/b_flood.csv, row 31)" in message  # the reason, its count, the rows
    assert "What to do:" in message and "leadscore validate" in message
    # said once; the blocking check named by what it checks, per file
    assert message.count("30 of 60 rows (50.0%)") == 1
    assert ("FAILED (BLOCKING) at most 20% of each file's rows would be quarantined" in message
            and "1 of 2 file(s) over the limit: events/b_flood.csv 50.0% (30 of 60 rows)" in message)
    assert "'hover' (file events/b_flood.csv, row 31)" in message  # the bad values, where
    assert "Quality page (GX results, offline):" in message and (settings.gx_docs_dir / "landing" / "index.html").exists()
    assert gate.files_validated == 2 and len(gate.reports) == 1  # one validation per entity
    # The whole load rolled back: not even the good file of the same load is kept.
    assert landing_counts(settings) == {"events": 0, "leads": 0, "orders": 0, "_files": 0}


def test_threshold_comes_from_the_environment(workspace: Workspace) -> None:
    write_events(workspace.landing_dir / "events" / "day1.csv", good=70, bad=30)
    settings = workspace.settings(LEADSCORE_MAX_QUARANTINE_SHARE="0.35")
    assert pipeline.load_landing(settings, inspect=LandingGate(settings)).total_rows == 100
    stricter = dataclasses.replace(settings, max_quarantine_share=0.25)
    write_events(workspace.landing_dir / "events" / "day2.csv", good=70, bad=30, start=500)
    with pytest.raises(QualityGateFailed, match="at most 25% of each file's rows"):
        pipeline.load_landing(stricter, inspect=LandingGate(stricter))


def test_small_files_are_judged_pooled(workspace: Workspace) -> None:
    # Each file is too small to judge alone; together they are a flood.
    per_file = 10
    files = MIN_ROWS_FOR_SHARE // per_file + 1
    for day in range(files):
        write_events(workspace.landing_dir / "events" / f"day{day:02d}.csv", good=5, bad=5,
                     start=day * 100)
    settings = workspace.settings()
    with pytest.raises(QualityGateFailed) as caught:
        pipeline.load_landing(settings, inspect=LandingGate(settings))
    message = str(caught.value)
    assert f"{files} small files pooled: 30 of 60 rows (50.0%)" in message
    assert "event_type 'hover' (file events/day00.csv, row 6)" in message


def test_a_few_small_files_are_too_few_to_judge(workspace: Workspace) -> None:
    for day in range(2):  # 20 rows in all, half of them bad: reported, not judged
        write_events(workspace.landing_dir / "events" / f"day{day:02d}.csv", good=5, bad=5,
                     start=day * 100)
    settings = workspace.settings()
    gate = LandingGate(settings)
    assert pipeline.load_landing(settings, inspect=gate).total_rows == 20
    (report,) = gate.reports
    assert report.passed and report.warnings
    assert any("too few to judge" in note for note in report.notes)


def test_large_load_is_sampled_but_a_flooded_file_is_never_missed(workspace: Workspace) -> None:
    # 40 good files and one flooded one, validated on a sample far smaller than the load
    for day in range(40):
        write_events(workspace.landing_dir / "events" / f"day{day:02d}.csv", good=100, bad=0,
                     start=day * 1000)
    write_events(workspace.landing_dir / "events" / "day99.csv", good=40, bad=60, start=99_000)
    settings = dataclasses.replace(workspace.settings(), gx_max_rows=200)
    gate = LandingGate(settings)
    with pytest.raises(QualityGateFailed) as caught:
        pipeline.load_landing(settings, inspect=gate)
    (report,) = gate.reports
    assert report.row_count < 600 and report.extra["rows"] == 4100
    assert report.extra["would_quarantine"] == {"unknown_event_type": 60}
    assert "events/day99.csv: 60 of 100 rows (60.0%)" in str(caught.value)


def test_generated_demo_day_passes_and_flood_fails(workspace: Workspace) -> None:
    settings = workspace.settings()
    generate_landing(workspace.landing_dir, day_range=(0, 2))
    gate = LandingGate(settings)
    assert pipeline.load_landing(settings, inspect=gate).total_rows > 0
    assert all(report.passed for report in gate.reports)

    flood = workspace.root / "flood"
    generate_landing(flood, day_range=(0, 1), bad_row_share=0.6, seed=3)
    flooded = dataclasses.replace(settings, landing_dir=flood,
                                  duckdb_path=workspace.root / "flood.duckdb")
    with pytest.raises(QualityGateFailed, match="would be quarantined"):
        pipeline.load_landing(flooded, inspect=LandingGate(flooded))


# --------------------------------------------------------------------------- mart gate


def good_mart(rows: int = 60) -> pd.DataFrame:
    grades, stages, actions = fit_grades(), lifecycle_stages(), recommended_actions()
    frame = pd.DataFrame({
        "lead_id": [f"L{i:04d}" for i in range(rows)],
        "lead_score": [(i * 7) % 101 for i in range(rows)],
        "fit_grade": [grades[i % len(grades)] for i in range(rows)],
        "engagement_tier": [1 + i % 4 for i in range(rows)],
        "lifecycle_stage": [stages[i % len(stages)] for i in range(rows)],
        "recommended_action": [actions[i % len(actions)] for i in range(rows)],
    })
    for column in ("demographic_score", "engagement_score", "page_intent_score",
                   "purchase_score", "behaviour_score"):
        frame[column] = frame["lead_score"]
    return frame


def mart_failures(workspace: Workspace, frame: pd.DataFrame, known: int | None = None,
                  **overrides: str) -> list[str]:
    report, docs = validate_mart(
        workspace.settings(**overrides),
        MartBatch(frame, len(frame) if known is None else known),
    )
    assert docs.exists()
    return [o.describe() for o in report.blocking_failures]


def test_mart_suite_passes_a_sound_mart(workspace: Workspace) -> None:
    assert mart_failures(workspace, good_mart()) == []


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("duplicate", "FAILED (BLOCKING) lead_id: one row per lead"),
        ("score_101", "FAILED (BLOCKING) lead_score: score in 0-100"),
        ("grade_E", "fit_grade: one of the values of seeds/rules/fit_grades.csv"),
        ("tier_5", "engagement_tier: one of the values of seeds/rules/engagement_tiers.csv"),
        ("stage", "lifecycle_stage: one of the values of seeds/rules/lifecycle_stages.csv"),
        ("action", "recommended_action: one of the values of seeds/rules/recommended_actions.csv"),
        ("all_equal", "lead_score: not all leads scored the same"),
        ("one_grade", "fit_grade: grade A holds at most 98% of the leads"),
        ("row_count", "FAILED (BLOCKING) one row per known lead"),
    ],
)
def test_mart_suite_names_what_is_wrong(workspace: Workspace, breakage: str, expected: str) -> None:
    frame, known = good_mart(), None
    if breakage == "duplicate":
        frame.loc[1, "lead_id"] = frame.loc[0, "lead_id"]
    elif breakage == "score_101":
        frame.loc[3, "lead_score"] = 101
    elif breakage == "grade_E":
        frame.loc[4, "fit_grade"] = "E"
    elif breakage == "tier_5":
        frame.loc[5, "engagement_tier"] = 5
    elif breakage == "stage":
        frame.loc[6, "lifecycle_stage"] = "zombie"
    elif breakage == "action":
        frame.loc[7, "recommended_action"] = "spam_them"
    elif breakage == "all_equal":
        frame["lead_score"] = 42
    elif breakage == "one_grade":
        frame["fit_grade"] = "A"
    elif breakage == "row_count":
        known = len(frame) + 3
    failures = mart_failures(workspace, frame, known)
    assert any(expected in failure for failure in failures), failures
    assert len(failures) == 1, failures


def test_mart_failure_names_example_leads(workspace: Workspace) -> None:
    frame = good_mart()
    frame.loc[3, "lead_score"] = 101
    (failure,) = mart_failures(workspace, frame)
    assert "101 (lead_id L0003)" in failure


def test_grade_share_bound_comes_from_the_environment(workspace: Workspace) -> None:
    assert mart_failures(workspace, good_mart(), LEADSCORE_MAX_GRADE_SHARE="0.5") == []
    failures = mart_failures(workspace, good_mart(), LEADSCORE_MAX_GRADE_SHARE="0.2")
    assert len(failures) == 4 and all("at most 20%" in f for f in failures)  # 25% each


def test_grade_share_is_not_judged_in_a_shop_without_profiles(workspace: Workspace) -> None:
    frame = good_mart()
    frame["fit_grade"] = "D"  # no profile: every lead is grade D by definition
    frame["has_profile"] = False
    orders_only = ShopShape(profiles=False, events=False, orders=True)
    report, _ = validate_mart(workspace.settings(), MartBatch(frame, len(frame), orders_only))
    assert report.passed, report.describe()
    (reason,) = report.extra["not_run"]
    assert "no profiles" in reason and "LEADSCORE_MAX_GRADE_SHARE" in reason
    assert f"not run: {reason}" in report.describe()
    assert report.extra["shop_feeds"] == {"profiles": False, "events": False, "orders": True}


def test_grade_share_is_judged_on_the_leads_with_a_profile(workspace: Workspace) -> None:
    # 60 profiled leads of every grade and 3,000 buyers without a profile (grade D)
    profiled = good_mart().assign(has_profile=True)
    buyers = good_mart(3000).assign(fit_grade="D", has_profile=False)
    buyers["lead_id"] = [f"B{i:05d}" for i in range(len(buyers))]
    frame = pd.concat([profiled, buyers], ignore_index=True)
    report, _ = validate_mart(workspace.settings(), MartBatch(frame, len(frame)))
    assert report.passed and report.extra["not_run"] == [], report.describe()
    # ... and it still bites when the profiled leads all share one grade
    frame.loc[frame["has_profile"], "fit_grade"] = "A"
    report, _ = validate_mart(workspace.settings(), MartBatch(frame, len(frame)))
    (failure,) = [o.describe() for o in report.blocking_failures]
    assert "grade A holds at most 98% of the leads with a profile" in failure
    assert "found 60 of 60 (100.0%) grade A" in failure and "(lead_id L00" in failure


def test_report_metadata_is_json(workspace: Workspace) -> None:
    report, _ = validate_mart(workspace.settings(), MartBatch(good_mart(), 60))
    assert json.loads(json.dumps(report.as_metadata()))["passed"] is True


def mart_warehouse(workspace: Workspace, frame: pd.DataFrame, known_leads: list[str] | None = None,
                   **overrides: str):
    """A warehouse holding ``frame`` as marts.lead_scores (no probabilities) and
    ``known_leads`` (default: the frame's) as int_lead_spine; returns its settings."""
    settings = workspace.settings(**overrides)
    known = pd.DataFrame({"lead_id": list(frame["lead_id"]) if known_leads is None else known_leads})
    with contextlib.closing(pipeline.connect(settings)) as con:
        con.register("frame", frame)
        con.register("known", known)
        con.execute("create schema marts; create schema intermediate")
        con.execute("create table marts.lead_scores as select *, null::double as "
                    "purchase_probability, null::string as propensity_method, null::string as "
                    "model_version from frame")
        con.execute("create table intermediate.int_lead_spine as select lead_id, true as "
                    "has_profile, true as has_events, true as has_orders from known")
    return settings


def test_large_mart_is_validated_on_a_hashed_sample(workspace: Workspace) -> None:
    settings = mart_warehouse(workspace, good_mart(2000), LEADSCORE_GX_MART_MAX_ROWS="200")
    report, _ = validate_mart(settings)
    assert report.passed, report.describe()
    assert 100 <= report.row_count <= 300 and report.extra["rows"] == 2000
    assert report.extra["sampled"] is True
    assert "validated on a hashed sample of" in report.describe()
    assert [o.describe() for o in report.outcomes if o.key == "row_count"] == [
        "ok one row per known lead (intermediate.int_lead_spine has 2,000); found observed value 2000"]
    again = read_mart(settings).frame["lead_id"].tolist()
    assert again == read_mart(settings).frame["lead_id"].tolist()  # the same leads every run
    # the whole mart within the cap: GX sees every lead
    report, _ = validate_mart(dataclasses.replace(settings, gx_mart_max_rows=5000))
    assert report.passed and report.row_count == 2000 and report.extra["sampled"] is False
    assert "sample" not in report.describe()


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("score_101", "FAILED (BLOCKING) lead_score: score in 0-100; found 1 of 2,000 (0.1%) "
                      "out of range; e.g. 101 (lead_id L"),
        ("null_score", "FAILED (BLOCKING) engagement_score: score filled in; found 1 of 2,000 "
                       "(0.1%) unexpected; e.g. lead_id L"),
        ("null_lead", "FAILED (BLOCKING) lead_id: filled in; found 1 of 2,000 (0.1%) unexpected"),
        ("duplicate", "FAILED (BLOCKING) lead_id: one row per lead; found 2 of 2,000 (0.1%) "
                      "duplicated"),
        ("grade_E", "FAILED (BLOCKING) fit_grade: one of the values of seeds/rules/fit_grades.csv; "
                    "found 1 of 2,000 (0.1%) unknown values; e.g. 'E' (lead_id L"),
        ("tier_5", "engagement_tier: one of the values of seeds/rules/engagement_tiers.csv; "
                   "found 1 of 2,000"),
        ("stage", "lifecycle_stage: one of the values of seeds/rules/lifecycle_stages.csv; "
                  "found 1 of 2,000"),
        ("row_count", "FAILED (BLOCKING) one row per known lead (intermediate.int_lead_spine has "
                      "2,003); found observed value 2000"),
    ],
)
def test_one_bad_lead_outside_the_sample_fails_the_gate(
    workspace: Workspace, breakage: str, expected: str
) -> None:
    frame = good_mart(2000)
    sampled = set(read_mart(mart_warehouse(workspace, frame, LEADSCORE_GX_MART_MAX_ROWS="200"))
                  .frame["lead_id"])
    outside = [i for i, lead in enumerate(frame["lead_id"]) if lead not in sampled]
    bad, other = outside[0], outside[1]
    known = list(frame["lead_id"])
    if breakage == "score_101":
        frame.loc[bad, "lead_score"] = 101
    elif breakage == "null_score":
        frame.loc[bad, "engagement_score"] = None
    elif breakage == "null_lead":
        frame.loc[bad, "lead_id"] = None
    elif breakage == "duplicate":
        frame.loc[bad, "lead_id"] = frame.loc[other, "lead_id"]
    elif breakage == "grade_E":
        frame.loc[bad, "fit_grade"] = "E"
    elif breakage == "tier_5":
        frame.loc[bad, "engagement_tier"] = 5
    elif breakage == "stage":
        frame.loc[bad, "lifecycle_stage"] = "zombie"
    elif breakage == "row_count":
        known += ["K1", "K2", "K3"]
    workspace.settings().duckdb_path.unlink()
    settings = mart_warehouse(workspace, frame, known, LEADSCORE_GX_MART_MAX_ROWS="200")
    batch = read_mart(settings)
    assert batch.sampled and len(batch.frame) < 400
    assert frame.loc[bad, "lead_id"] not in set(batch.frame["lead_id"])  # GX alone would not see it
    report, _ = validate_mart(settings, batch)
    failures = [o.describe() for o in report.blocking_failures]
    assert len(failures) == 1 and expected in failures[0], failures
    assert expected.split(";")[0] in str(QualityGateFailed([report], "stopped"))


def test_gate_judges_campaign_sends_like_staging(workspace: Workspace) -> None:
    path = workspace.landing_dir / "campaign_sends" / "s.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "lead_id,campaign_id,sent_at,channel,is_control\n"
        "L1,c1,2024-06-01T09:00:00Z,EMAIL,Yes\n"
        "L1,,2024-06-01T09:00:00Z,email,\n"
        ",c1,2024-06-01T09:00:00Z,email,\n"
        "L2,c1,yesterday,email,\n"
        "L2,c1,2024-06-01T09:00:00Z,fax,\n"
        "L3,c1,2024-06-01T09:00:00Z,,maybe\n"
        "L3,c1,2099-06-01T09:00:00Z,ads,0\n",
        encoding="utf-8",
    )
    gate = LandingGate(workspace.settings())
    (file,) = discover(workspace.landing_dir)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    batch = gate_frame("campaign_sends", file_relation(con, file), gate.rules["campaign_sends"])
    reasons = dict(zip(batch.frame["_source_row"], batch.frame["quarantine_reason"].fillna("ok")))
    assert reasons == {
        1: "ok",
        2: "missing_id",
        3: "missing_lead_id",
        4: "unparseable_timestamp",
        5: "unknown_channel",
        6: "unparseable_flag",
        7: "future_timestamp",
    }
