"""Staging and quarantine: every landing row is staged or quarantined with its reason."""

from __future__ import annotations

import json

import duckdb
import pytest

from orchestration import landing, pipeline
from warehouse_helpers import build_warehouse, make_settings, query
from landing_fixtures import EXPECTED_QUARANTINE, write_bad_landing

AS_OF = "2026-10-03"


@pytest.fixture(scope="module")
def bad_warehouse(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("bad"))
    write_bad_landing(settings.landing_dir)
    build_warehouse(settings, AS_OF, tests=True)
    return settings


@pytest.mark.parametrize(("source_file", "source_row", "entity", "reason"), EXPECTED_QUARANTINE,
                         ids=[f"{e}-{r}" for _, _, e, r in EXPECTED_QUARANTINE])
def test_each_bad_row_is_quarantined_with_its_reason(bad_warehouse, source_file, source_row, entity, reason):
    found = query(
        bad_warehouse,
        "select reason, raw_row from quarantine.quarantined_rows "
        "where entity = ? and source_file = ? and source_row = ?",
        [entity, source_file, source_row],
    )
    assert found["reason"].tolist() == [reason]
    raw = json.loads(found["raw_row"].iloc[0])  # the raw row is valid JSON text
    assert set(landing.CONTRACT[entity]) == set(raw)


def test_no_other_row_is_quarantined(bad_warehouse):
    quarantined = query(bad_warehouse, "select entity, source_file, source_row from quarantine.quarantined_rows")
    expected = {(e, f, r) for f, r, e, _ in EXPECTED_QUARANTINE}
    assert set(map(tuple, quarantined[["entity", "source_file", "source_row"]].values.tolist())) == expected


def test_good_rows_flow_on(bad_warehouse):
    events = query(bad_warehouse, "select event_id, occurred_at, page_type, search_query from staging.stg_landing__events order by event_id")
    assert events["event_id"].tolist() == ["e1", "e2", "e3", "e8", "e9"]
    # an offset is converted to UTC; the first delivery of a conflicting event wins
    assert str(events.set_index("event_id").loc["e2", "occurred_at"]) == "2026-10-01 08:01:00"
    # the page type comes from the URL when missing
    assert events.set_index("event_id").loc["e9", "page_type"] == "store_hours"
    # SQL-looking text is data like any other
    assert events.set_index("event_id").loc["e8", "search_query"] == "'; drop table landing.events; --"
    leads = query(bad_warehouse, "select lead_id, city from staging.stg_landing__leads order by lead_id")
    # same updated_at delivered twice with different content: the later delivery wins
    assert leads.values.tolist() == [["L1", "Hamburg"], ["L2", "Berlin"]]
    orders = query(bad_warehouse, "select order_id, order_status, amount from staging.stg_landing__orders order by order_id, version_at")
    assert orders.values.tolist() == [["o1", "completed", 99.5], ["o1", "refunded", 99.5], ["o9", "completed", 11.0]]


def test_no_clear_email_beyond_staging(bad_warehouse):
    leads = query(bad_warehouse, "select * from staging.stg_landing__leads")
    assert "email" not in leads.columns
    assert leads["email_hash"].str.len().eq(64).all()
    for schema in ("staging", "intermediate", "scores", "marts"):
        columns = query(bad_warehouse, "select table_name, column_name from information_schema.columns where table_schema = ?", [schema])
        assert "email" not in set(columns["column_name"]), schema


@pytest.mark.parametrize("warehouse", ["bad_warehouse", "generated_warehouse"])
def test_landing_rows_equal_staged_plus_quarantined(warehouse, request):
    settings = request.getfixturevalue(warehouse)
    for entity in landing.CONTRACT:
        counts = query(
            settings,
            f"""
            select
                (select count(*) from landing.{entity}) as landing_rows,
                (select count(*) from staging.stg_landing__{entity}) as staged_rows,
                (select count(*) from quarantine.quarantined_rows where entity = '{entity}') as quarantined_rows
            """,
        ).iloc[0]
        assert counts.landing_rows > 0
        assert counts.landing_rows == counts.staged_rows + counts.quarantined_rows, entity


def test_generated_bad_rows_of_every_kind_are_quarantined(generated_warehouse):
    reasons = set(query(generated_warehouse, "select distinct reason from quarantine.quarantined_rows")["reason"])
    assert {
        "unparseable_timestamp", "missing_id", "missing_lead_and_anonymous_id", "unknown_event_type",
        "future_timestamp", "negative_amount", "non_numeric_amount", "unknown_status",
        "exact_redelivery", "conflicting_redelivery",
    } <= reasons


def test_unreadable_file_stops_the_load_and_names_the_file(tmp_path):
    settings = make_settings(tmp_path)
    write_bad_landing(settings.landing_dir)
    broken = settings.landing_dir / "events" / "events_2026-10-03.parquet"
    broken.write_bytes(b"this is not parquet")
    with pytest.raises(landing.LandingFileError) as error:
        pipeline.load_landing(settings)
    assert str(broken) in str(error.value)
    # the load is one transaction: nothing of this run was kept
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        tables = con.execute("select count(*) from information_schema.tables where table_schema = 'landing'").fetchone()[0]
        if tables:
            assert con.execute("select count(*) from landing.events").fetchone()[0] == 0
    finally:
        con.close()


def test_missing_required_column_is_an_error_naming_file_and_column(tmp_path):
    settings = make_settings(tmp_path)
    path = settings.landing_dir / "orders" / "orders.csv"
    path.parent.mkdir(parents=True)
    path.write_text("order_id,lead_id,ordered_at\no1,L1,2026-10-01\n")
    with pytest.raises(landing.LandingFileError, match="amount") as error:
        pipeline.load_landing(settings)
    assert str(path) in str(error.value)


def test_unknown_file_type_is_an_error_and_hidden_files_are_skipped(tmp_path):
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / ".DS_Store").write_text("x")
    (tmp_path / "events" / "_SUCCESS").write_text("")
    assert landing.discover(tmp_path) == []
    (tmp_path / "events" / "events.xlsx").write_text("x")
    with pytest.raises(landing.LandingFileError, match="unsupported file type"):
        landing.discover(tmp_path)


def test_files_are_loaded_once(tmp_path):
    settings = make_settings(tmp_path)
    write_bad_landing(settings.landing_dir)
    first = pipeline.load_landing(settings)
    again = pipeline.load_landing(settings)
    assert first.total_rows > 0 and again.files == []
    (settings.landing_dir / "events" / "events_2026-10-01.csv").touch()  # same content, new mtime
    assert pipeline.load_landing(settings).files == []


@pytest.mark.parametrize("suffix", ["parquet", "csv", "jsonl"])
def test_loader_numbers_rows_in_file_order(tmp_path, suffix):
    # _source_row is how a quarantined row is found again in its file: 1-based, file order
    ids = [f"e{i}" for i in (5, 3, 9, 1, 7)]
    events = tmp_path / "landing" / "events"
    events.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("create table rows as select * from (values " + ", ".join(
        f"('{event_id}', '2026-10-01T10:00:00Z', 'L1', 'page_view', {n})" for n, event_id in enumerate(ids)
    ) + ") as t(event_id, occurred_at, lead_id, event_type, n)")
    target = events / f"day.{suffix}"
    fmt = {"parquet": "parquet", "csv": "csv, header true", "jsonl": "json"}[suffix]
    con.execute(f"copy (select * exclude (n) from rows order by n) to '{target}' (format {fmt})")
    con.close()
    with duckdb.connect(str(tmp_path / "w.duckdb")) as warehouse:
        loaded = landing.load(warehouse, tmp_path / "landing")
        rows = warehouse.execute(
            "select _source_row, event_id from landing.events order by _source_row").fetchall()
    assert loaded.total_rows == 5
    assert rows == [(n, event_id) for n, event_id in enumerate(ids, start=1)]
