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


#: Text that a hand-written JSON encoder gets wrong: every control character (U+0000 to
#: U+001F; JSON requires them escaped), DEL, quotes, backslashes, non-ASCII and emoji.
NASTY_VALUES = [
    "line one\nline two",
    "tab\there",
    "carriage\rreturn and crlf\r\n",
    "start of heading \u0001 and unit separator \u001f and DEL \u007f",
    'say "cheese"',
    "back\\slash \\n is not a newline \\",
    "Zürich Köln Łódź ñ ß",
    "emoji 🏕️🥾 and a surrogate pair 𝄞",
    "".join(chr(code) for code in range(0x20)),  # all of them, NUL included
    '{"looks": "like json"}',
    "",
]


def _nasty_landing(landing_dir) -> dict[tuple[str, str], dict[str, str | None]]:
    """Rows bound for the quarantine whose text fields hold NASTY_VALUES; returns the
    rows as delivered by (entity, file) so raw rows can be compared with them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def row(entity: str, n: int, fields: dict) -> dict:
        base = dict.fromkeys(landing.CONTRACT[entity])
        return {**base, **fields}

    rows: dict[str, list[dict]] = {"events": [], "leads": [], "orders": [], "campaign_sends": []}
    for n, value in enumerate(NASTY_VALUES):
        # an unknown event type: quarantined, every other text column holds the value
        rows["events"].append(row("events", n, {
            "event_id": f"nasty-e{n}", "occurred_at": "2026-10-01T10:00:00Z", "lead_id": f"L{n}",
            "anonymous_id": value, "session_id": value, "event_type": "hover " + value,
            "page_url": value, "page_type": value, "product_id": value, "product_category": value,
            "search_query": value,
        }))
        # a lead without an id
        rows["leads"].append(row("leads", n, {
            "lead_id": None, "email": value, "birth_date": value, "age": value, "gender": value,
            "country_code": value, "postal_code": value, "city": value, "latitude": value,
            "longitude": value, "created_at": "2026-09-01T00:00:00Z", "updated_at": None,
            "marketing_consent": value, "acquisition_channel": value,
        }))
        # an order in an unknown currency
        rows["orders"].append(row("orders", n, {
            "order_id": f"nasty-o{n}", "lead_id": value, "ordered_at": "2026-10-01T12:00:00Z",
            "amount": "10", "currency": "X" + value, "status": None, "item_count": value,
            "updated_at": None,
        }))
        # a send on an unknown channel
        rows["campaign_sends"].append(row("campaign_sends", n, {
            "lead_id": value, "campaign_id": value, "sent_at": "2026-10-01T09:00:00Z",
            "channel": "x" + value, "is_control": value,
        }))
    delivered = {}
    for entity, entity_rows in rows.items():
        relative = f"{entity}/{entity}_nasty.parquet"
        path = landing_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        columns = landing.CONTRACT[entity]
        table = pa.table({c: pa.array([r[c] for r in entity_rows], pa.string()) for c in columns})
        pq.write_table(table, path)
        for number, delivered_row in enumerate(entity_rows, start=1):
            delivered[(relative, number)] = delivered_row
    return delivered


def test_every_raw_row_is_valid_json_that_round_trips(tmp_path):
    settings = make_settings(tmp_path)
    delivered = _nasty_landing(settings.landing_dir)
    pipeline.load_landing(settings)
    pipeline.run_dbt(settings, ["build", "--quiet", "--select", "+quarantined_rows",
                                "--exclude-resource-type", "unit_test", "test"], as_of=AS_OF, quiet=True)
    quarantined = query(settings, "select entity, source_file, source_row, reason, raw_row from quarantine.quarantined_rows")
    assert len(quarantined) == len(delivered) == len(landing.CONTRACT) * len(NASTY_VALUES)
    for found in quarantined.itertuples():
        expected = delivered[(found.source_file, found.source_row)]
        try:
            raw = json.loads(found.raw_row)
        except json.JSONDecodeError as error:  # pragma: no cover - the failure message
            pytest.fail(f"raw row of {found.source_file}:{found.source_row} is not JSON ({error}): {found.raw_row!r}")
        # every contract column, in contract order, with the delivered text unchanged, but
        # a direct identifier (the e-mail) masked as sha256:<staging's hash>
        assert list(raw) == list(landing.CONTRACT[found.entity])
        assert raw == _masked(found.entity, expected), (found.source_file, found.source_row)


def _masked(entity: str, row: dict) -> dict:
    """The row as the quarantine keeps it: direct identifiers as 'sha256:' + the hash
    staging computes (DuckDB's own trim/lower/sha256), blank ones unchanged."""
    import duckdb

    from orchestration.privacy import DIRECT_IDENTIFIERS

    masked = dict(row)
    for column in DIRECT_IDENTIFIERS[entity]:
        masked[column] = duckdb.execute(
            "select case when nullif(trim($v), '') is null then $v "
            "else 'sha256:' || sha256(lower(trim(nullif(trim($v), '')))) end", {"v": row[column]}
        ).fetchone()[0]
    return masked


def test_default_raw_row_json_is_valid_json_too(tmp_path):
    """The portable default__ (used off DuckDB) on the same rows, run here on DuckDB."""
    settings = make_settings(tmp_path)
    delivered = _nasty_landing(settings.landing_dir)
    pipeline.load_landing(settings)
    for entity in landing.CONTRACT:
        compiled = pipeline.run_dbt(settings, [
            "compile", "--quiet", "--inline",
            "select _source_file, _source_row, "
            f"{{{{ leadscore.default__raw_row_json(leadscore.landing_columns('{entity}'), 'rows') }}}} as raw_row "
            f"from {{{{ source('landing', '{entity}') }}}} as rows",
        ], as_of=AS_OF, quiet=True).stdout
        found = query(settings, compiled)
        assert len(found) == len(NASTY_VALUES)
        for source_file, source_row, raw_row in found.itertuples(index=False):
            assert json.loads(raw_row) == delivered[(source_file, source_row)], raw_row
