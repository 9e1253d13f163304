"""Hostile input is data: file and folder names that look like SQL, glob patterns or
options load like any other and appear by name; a value too large or JSON nested too deep
refuses its file by name instead of crashing the run; bad settings name the variable."""

from __future__ import annotations

import contextlib
import gzip
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration import landing, pipeline, serving
from orchestration.config import Settings
from orchestration.landing_formats import Limits
from warehouse_helpers import make_settings, query

AS_OF = "2026-12-05"

#: File names a shop (or an attacker) may deliver, relative to the landing folder.
HOSTILE_NAMES = [
    "events/--x';DROP TABLE x;--.csv",
    'events/say "cheese".csv',
    "events/spaces and; semicolons.csv",
    "events/ünïcødé 🏕️ Łódź.csv",
    "events/-leading-dash.jsonl",
    "events/it's [a] sub*dir?/day.parquet",
    "events/x*.csv",  # a glob pattern: must read this file only, not x1.csv as well
    "events/x1.csv",
    "events/a\\b.csv",
    "events/new\nline and \x1b[31mred.csv",  # control characters in a name
]


def _write_event(path: Path, event_id: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"event_id": event_id, "occurred_at": "2026-12-01T10:00:00Z", "lead_id": "L1",
           "event_type": "hover"}  # an unknown event type: quarantined, with its file named
    if path.suffix == ".csv":
        path.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n")
    elif path.suffix == ".jsonl":
        path.write_text(json.dumps(row) + "\n")
    else:
        pq.write_table(pa.table({k: [v] for k, v in row.items()}), path)


def _hostile_landing(landing_dir: Path) -> dict[str, str]:
    """One event per hostile name; returns relative path -> event id."""
    expected = {}
    for number, relative in enumerate(HOSTILE_NAMES):
        _write_event(landing_dir / relative, f"e{number}")
        expected[relative] = f"e{number}"
    return expected


def test_hostile_file_names_load_each_file_once_under_its_name(tmp_path):
    root = tmp_path / "land'ing; dir"  # the landing folder itself, too
    expected = _hostile_landing(root)
    con = duckdb.connect()
    result = landing.load(con, root)
    assert result.total_rows == len(HOSTILE_NAMES)
    assert dict(con.execute("select _source_file, event_id from landing.events").fetchall()) \
        == expected
    assert sorted(r[0] for r in con.execute("select relative_path from landing._files").fetchall()) \
        == sorted(expected)
    # the tables the names threaten are still there, and the load is not repeated
    assert con.execute("select count(*) from landing._files").fetchone()[0] == len(HOSTILE_NAMES)
    assert landing.load(con, root).files == []


def test_hostile_file_names_appear_by_name_in_the_quarantine(tmp_path):
    settings = make_settings(tmp_path / "ware'house; dir")
    expected = _hostile_landing(settings.landing_dir)
    pipeline.load_landing(settings)
    pipeline.run_dbt(settings, ["build", "--quiet", "--select", "+quarantined_rows",
                                "--exclude-resource-type", "unit_test", "test"],
                     as_of=AS_OF, quiet=True)
    quarantined = query(settings, "select source_file, reason from quarantine.quarantined_rows")
    assert sorted(quarantined.source_file) == sorted(expected)
    assert set(quarantined.reason) == {"unknown_event_type"}


def test_publishing_into_hostile_folders(tmp_path):
    """The serving copy is written to and from paths with quotes, semicolons, spaces."""
    settings = make_settings(tmp_path / "it's; a \"dir\"")
    with contextlib.closing(duckdb.connect(str(settings.duckdb_path))) as con:
        con.execute("create schema marts")
        for table in serving.TABLES.values():
            con.execute(f"create table {table} as select 'L1' as lead_id, "
                        "timestamp '2026-12-01' as as_of")
    tmp_duckdb = settings.serving_dir / "x';drop table y;--.duckdb"
    tmp_parquet = settings.serving_dir / "x';drop table y;--.parquet"
    settings.serving_dir.mkdir(parents=True)
    counts, as_of = serving._write_copies(settings, tmp_duckdb, tmp_parquet)
    assert counts == dict.fromkeys(serving.TABLES, 1) and as_of == "2026-12-01 00:00:00"
    assert duckdb.sql("select lead_id from read_parquet(?)", params=[str(tmp_parquet)]) \
        .fetchall() == [("L1",)]


# -------------------------------------------------------------------------- limits


def test_a_10_mb_csv_cell_refuses_the_file_by_name_not_the_run(tmp_path):
    path = tmp_path / "leads" / "huge.csv"
    path.parent.mkdir(parents=True)
    path.write_text("lead_id,city\nL1,Berlin\nL2," + "x" * 10_000_000 + "\n")
    with pytest.raises(landing.LandingFileError) as caught:
        landing.load(duckdb.connect(), tmp_path)
    assert caught.value.path == path
    assert caught.value.problem.startswith("line 3 is longer than 4,194,304 bytes"), caught.value
    assert "LEADSCORE_LANDING_MAX_CELL_BYTES" in caught.value.problem
    # a limit large enough loads it, whole
    con = duckdb.connect()
    landing.load(con, tmp_path, limits=Limits(max_cell_bytes=12_000_000))
    assert con.execute("select max(length(city)) from landing.leads").fetchone()[0] == 10_000_000


@pytest.mark.parametrize("suffix", [".jsonl", ".json.gz"])
def test_a_10_mb_json_value_refuses_the_file_naming_row_and_column(tmp_path, suffix):
    rows = [{"lead_id": "L1", "city": "Berlin"}, {"lead_id": "L2", "city": "y" * 10_000_000}]
    text = "".join(json.dumps(r) + "\n" for r in rows).encode()
    path = tmp_path / "leads" / f"huge{suffix}"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(text) if suffix.endswith(".gz") else text)
    con = duckdb.connect()
    with pytest.raises(landing.LandingFileError) as caught:
        landing.load(con, tmp_path)
    assert caught.value.path == path
    assert caught.value.problem.startswith(
        "row 2, column city holds 10,000,000 bytes, more than the 1,048,576 a value may hold "
        "(LEADSCORE_LANDING_MAX_CELL_BYTES)"), caught.value
    # the load is one transaction: nothing of it was kept
    assert con.execute("select count(*) from information_schema.tables "
                       "where table_schema = 'landing'").fetchone()[0] == 0


def test_json_nested_10000_deep_refuses_the_file_or_is_ignored(tmp_path):
    deep = "[" * 10_000 + "]" * 10_000
    path = tmp_path / "leads" / "deep.jsonl"
    path.parent.mkdir(parents=True)
    # nested in a column the contract ignores: nothing to read, loads
    path.write_text('{"lead_id": "L1", "other": ' + deep + "}\n")
    con = duckdb.connect()
    assert landing.load(con, tmp_path).total_rows == 1
    # nested in a contract column: refused by name
    path.write_text('{"lead_id": "L1"}\n{"lead_id": "L2", "city": ' + deep + "}\n")
    with pytest.raises(landing.LandingFileError) as caught:
        landing.load(duckdb.connect(), tmp_path)
    assert caught.value.path == path
    assert caught.value.problem.startswith(
        "row 2, column city holds JSON nested 10000 levels deep, more than 64 "
        "(LEADSCORE_LANDING_MAX_JSON_DEPTH)"), caught.value


def test_malformed_deep_json_is_diagnosed_without_crashing(tmp_path):
    path = tmp_path / "leads" / "deep.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text('{"lead_id": "L1"}\n{"lead_id": "L2", "city": ' + "[" * 100_000 + "\n")
    with pytest.raises(landing.LandingFileError) as caught:
        landing.load(duckdb.connect(), tmp_path)
    assert caught.value.path == path
    assert caught.value.problem.startswith("line 2 is "), caught.value


def test_values_stay_data_through_the_dialect_options(tmp_path):
    sql = "1'); drop table landing.orders; --"
    path = tmp_path / "orders" / "o.csv"
    path.parent.mkdir(parents=True)
    path.write_text('order_id,lead_id,ordered_at,amount\n"' + sql + '",L1,"' + sql + '","'
                    + sql + '"\n')
    (tmp_path / "orders" / "_format.yml").write_text(
        "decimal: ','\ndate_format: \"%d/%m/%Y'); drop table x; --\"\n")
    con = duckdb.connect()
    landing.load(con, tmp_path)
    assert con.execute("select order_id, ordered_at, amount from landing.orders").fetchall() == [
        (sql, sql, sql)]


# ------------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LEADSCORE_DUCKDB_MEMORY_LIMIT", "lots", "a size: a number and a unit"),
        ("LEADSCORE_DUCKDB_MEMORY_LIMIT", "8GB'; drop table x; --", "e.g. 8GB or 512MB"),
        ("LEADSCORE_DUCKDB_THREADS", "0", "a whole number of at least 1"),
        ("LEADSCORE_DUCKDB_THREADS", "2.5", "a whole number of at least 1"),
        ("LEADSCORE_DBT_THREADS", "two", "a whole number of at least 1"),
        ("LEADSCORE_DBT_THREADS", "-1", "a whole number of at least 1"),
        ("LEADSCORE_GX_MAX_ROWS", "0", "a whole number of at least 1"),
        ("LEADSCORE_GX_MART_MAX_ROWS", "many", "a whole number of at least 1"),
        ("LEADSCORE_LANDING_MAX_CELL_BYTES", "10", "a whole number of at least 1024"),
        ("LEADSCORE_LANDING_MAX_JSON_DEPTH", "deep", "a whole number of at least 1"),
        ("LEADSCORE_MAX_QUARANTINE_SHARE", "20%", "a number from 0 to 1"),
        ("LEADSCORE_TRAIN_IF_MISSING", "maybe", "true or false"),
    ],
)
def test_a_bad_setting_names_the_variable_and_the_accepted_form(monkeypatch, variable, value,
                                                                 expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError) as caught:
        Settings.from_env()
    message = str(caught.value)
    assert message.startswith(f"environment variable {variable} must be "), message
    assert expected in message and repr(value) in message, message


def test_good_settings_are_read(monkeypatch):
    for variable, value in {"LEADSCORE_DUCKDB_MEMORY_LIMIT": "1.5GiB", "LEADSCORE_DUCKDB_THREADS": "3",
                            "LEADSCORE_LANDING_MAX_CELL_BYTES": "2048",
                            "LEADSCORE_LANDING_MAX_JSON_DEPTH": "5"}.items():
        monkeypatch.setenv(variable, value)
    settings = Settings.from_env()
    assert (settings.duckdb_memory_limit, settings.duckdb_threads) == ("1.5GiB", 3)
    assert settings.landing_limits == Limits(2048, 5)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LEADSCORE_SCHEDULE_CRON", "every day", "a cron expression of five fields"),
        ("LEADSCORE_TRAINING_CRON", "0 4 * *", "a cron expression of five fields"),
        ("LEADSCORE_SCHEDULE_TIMEZONE", "Mars/Olympus", "an IANA time zone name"),
    ],
)
def test_bad_schedule_settings_name_the_variable(monkeypatch, variable, value, expected):
    from orchestration import definitions

    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=f"environment variable {variable} must be {expected}"):
        definitions.training_schedule_settings()  # reads all three


def test_hostile_names_and_values_are_data_in_the_landing_gate_and_its_page(tmp_path):
    """The GX gate judges hostile values and names as text: its message names the file
    verbatim, and the offline quality page shows them escaped, never as markup."""
    from orchestration.quality import QualityGateFailed
    from orchestration.quality.landing_suite import LandingGate

    settings = make_settings(tmp_path)
    name = "orders/<script>alert('x')</script>; drop table y --.csv"
    value = "=HYPERLINK(\"http://evil\")<img src=x onerror=alert(1)>'; drop table z; --"
    path = settings.landing_dir / name
    path.parent.mkdir(parents=True)
    path.write_text("order_id,lead_id,ordered_at,amount\n"
                    + "".join(f'o{i},L1,2026-12-01,"{value.replace(chr(34), chr(34) * 2)}"\n'
                              for i in range(60)))
    gate = LandingGate(settings)
    with pytest.raises(QualityGateFailed) as caught:
        pipeline.load_landing(settings, inspect=gate)
    message = str(caught.value)
    assert f"{name}: 60 of 60 rows (100.0%) would be quarantined" in message, message
    assert "e.g. amount '=HYPERLINK(\"http://evil\")<img src=x o" in message, message
    # GX's own examples, read back, are the delivered text (escaped only inside its pages)
    assert not any(entity in message for entity in ("&lt;", "&quot;", "&#x27;")), message
    pages = [p.read_text() for p in settings.gx_docs_dir.rglob("*.html")]
    assert pages and not any("<script>alert" in page or "<img src=x" in page for page in pages)
    assert any("&lt;script&gt;alert(" in page for page in pages)


def test_backtest_truth_files_are_read_by_the_loader_rules(tmp_path):
    """``leadscore backtest --truth-dir`` reads its order files with the same bound paths
    and dialect options as the loader."""
    from orchestration import backtest

    truth = tmp_path / "tru'th; dir"
    for name, (order, day) in {"orders/x*.csv": ("o1", "01/12/2026"),
                               "orders/x1.csv": ("o2", "02/12/2026")}.items():
        path = truth / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"order_id;lead_id;ordered_at;amount\n{order};L1;{day};1,5\n")
    (truth / "orders" / "_format.yml").write_text("delimiter: ';'\ndate_format: '%d/%m/%Y'\n")
    files = backtest._truth_orders(truth)
    found = backtest._outcomes(duckdb.connect(), files)
    assert sorted(str(t.date()) for t in found.ordered_at) == ["2026-12-01", "2026-12-02"]


def test_a_refused_file_with_control_characters_in_its_name_is_named_on_one_line(tmp_path):
    path = tmp_path / "orders" / "o\n\x1b[2Jcleared.csv"
    path.parent.mkdir(parents=True)
    path.write_text("order_id,lead_id\no1,L1\n")  # required columns missing
    with pytest.raises(landing.LandingFileError) as caught:
        landing.load(duckdb.connect(), tmp_path)
    message = str(caught.value)
    assert caught.value.path == path
    assert message.startswith(f"landing file {tmp_path}/orders/o\\n\\x1b[2Jcleared.csv: "), message
    assert "\n" not in message and "\x1b" not in message
