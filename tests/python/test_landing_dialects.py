"""The files real shops send: each dialect loads with its option (the folder's
``_format.yml``) or is refused with a message naming the file, the problem and the option
that would load it (README, "File formats and dialects")."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pytest

from orchestration import landing, pipeline
from orchestration.landing_formats import FormatOptionsError, parse_options
from warehouse_helpers import make_settings, query

AS_OF = "2026-12-05"
ORDER_HEADER = "order_id,lead_id,ordered_at,amount,currency"


def write(root: Path, relative: str, content: bytes | str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def load(root: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    landing.load(con, root)
    return con


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def refused(root: Path) -> tuple[Path, str]:
    """(path named, problem) of a load that stops at a file."""
    with pytest.raises(landing.LandingFileError) as caught:
        load(root)
    assert "\n" not in str(caught.value)
    return caught.value.path, caught.value.problem


# ----------------------------------------------------------------- no option needed


def test_bom_crlf_and_quoted_newlines_load_as_delivered(tmp_path):
    write(tmp_path, "orders/excel.csv",
          b"\xef\xbb\xbforder_id,lead_id,ordered_at,amount,status\r\n"
          b'o1,L1,2026-12-01,12.50,"completed"\r\n'
          b'o2,L2,2026-12-02,3,"a status\r\nover two lines"\r\n')
    con = load(tmp_path)
    assert rows(con, "select order_id, lead_id, amount, status, _source_row from landing.orders "
                     "order by _source_row") == [
        ("o1", "L1", "12.50", "completed", 1),
        ("o2", "L2", "3", "a status\r\nover two lines", 2),
    ]


def test_semicolon_csv_is_detected_without_an_option(tmp_path):
    write(tmp_path, "orders/eu.csv", "order_id;lead_id;ordered_at;amount\no1;L1;2026-12-01;4\n")
    assert rows(load(tmp_path), "select order_id, amount from landing.orders") == [("o1", "4")]


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
@pytest.mark.parametrize("layout", ["one line", "pretty"])
def test_json_arrays_load_like_json_lines(tmp_path, suffix, layout):
    orders = [{"order_id": f"o{i}", "lead_id": "L1", "ordered_at": "2026-12-01", "amount": i,
               "extra": {"nested": [1, 2]}} for i in (3, 1, 2)]
    text = json.dumps(orders, indent=2 if layout == "pretty" else None)
    data = text.encode()
    write(tmp_path, f"orders/export{suffix}", gzip.compress(data) if suffix.endswith(".gz") else data)
    assert rows(load(tmp_path), "select _source_row, order_id, amount from landing.orders "
                                "order by _source_row") == [(1, "o3", "3"), (2, "o1", "1"),
                                                            (3, "o2", "2")]


def test_json_lines_with_a_bom_and_crlf_load(tmp_path):
    write(tmp_path, "leads/crm.jsonl",
          b'\xef\xbb\xbf{"lead_id": "L1", "city": "K\xc3\xb6ln"}\r\n{"lead_id": "L2"}\r\n')
    assert rows(load(tmp_path), "select lead_id, city from landing.leads order by lead_id") == [
        ("L1", "Köln"), ("L2", None)]


def test_a_json_array_of_non_objects_is_refused_by_name(tmp_path):
    path = write(tmp_path, "orders/export.json", "[1, 2, 3]\n")
    named, problem = refused(tmp_path)
    assert named == path
    assert problem.startswith("holds JSON values that are not objects"), problem


# ------------------------------------------------------------------------- encodings

WINDOWS_1252 = "lead_id,city,email\nL1,München,a@example.com\nL2,Paris,€uro@example.com\n"


def test_windows_1252_without_the_option_names_the_encoding_option(tmp_path):
    path = write(tmp_path, "leads/crm.csv", WINDOWS_1252.encode("cp1252"))
    named, problem = refused(tmp_path)
    assert named == path
    assert "is not UTF-8: line 2" in problem
    assert "set the file's encoding, e.g. `encoding: windows-1252`, in leads/_format.yml" in problem


@pytest.mark.parametrize("compress", [False, True])
def test_windows_1252_loads_with_the_encoding_option(tmp_path, compress):
    data = WINDOWS_1252.encode("cp1252")
    write(tmp_path, "leads/crm.csv" + (".gz" if compress else ""),
          gzip.compress(data) if compress else data)
    write(tmp_path, "leads/_format.yml", "encoding: windows-1252\n")
    assert rows(load(tmp_path), "select lead_id, city, email from landing.leads order by 1") == [
        ("L1", "München", "a@example.com"), ("L2", "Paris", "€uro@example.com")]


def test_latin_1_json_lines_load_with_the_encoding_option(tmp_path):
    write(tmp_path, "leads/crm.jsonl", '{"lead_id": "L1", "city": "Zürich"}\n'.encode("latin-1"))
    write(tmp_path, "leads/_format.yml", "encoding: latin-1\n")
    assert rows(load(tmp_path), "select city from landing.leads") == [("Zürich",)]


def test_a_byte_the_configured_encoding_cannot_decode_names_line_and_option(tmp_path):
    path = write(tmp_path, "leads/crm.csv", "lead_id,city\nL1,Berlin\nL2,München\n".encode("cp1252"))
    write(tmp_path, "leads/_format.yml", "encoding: ascii\n")
    named, problem = refused(tmp_path)
    assert named == path
    assert problem.startswith("line 3 cannot be decoded as ascii: the byte 0xfc"), problem
    assert "`encoding: windows-1252`, in leads/_format.yml" in problem


# ------------------------------------------------------------------------- delimiter


def test_a_wrong_delimiter_option_says_which_one_would_load(tmp_path):
    path = write(tmp_path, "events/day.csv",
                 "event_id;occurred_at;lead_id;event_type\ne1;2026-12-01T10:00:00Z;L1;page_view\n")
    write(tmp_path, "events/_format.yml", "delimiter: ','\n")
    named, problem = refused(tmp_path)
    assert named == path
    assert "looks ';'-separated: set `delimiter: ';'` in events/_format.yml" in problem, problem
    write(tmp_path, "events/_format.yml", "delimiter: ';'\n")
    assert rows(load(tmp_path), "select event_id, event_type from landing.events") == [
        ("e1", "page_view")]


def test_pipe_delimiter_and_quote_options(tmp_path):
    # a quote character DuckDB's sniffer would not guess
    write(tmp_path, "orders/o.csv", "order_id|lead_id|ordered_at|amount\n~o|1~|L1|2026-12-01|5\n")
    write(tmp_path, "orders/_format.yml", "delimiter: '|'\nquote: '~'\n")
    assert rows(load(tmp_path), "select order_id, amount from landing.orders") == [("o|1", "5")]


# -------------------------------------------------------------- decimal comma, dates


def test_decimal_comma_is_normalised_in_number_columns_only(tmp_path):
    write(tmp_path, "orders/eu.csv",
          "order_id;lead_id;ordered_at;amount;currency\n"
          "o1;L1;2026-12-01;12,50;EUR\n"
          "o2;L1;2026-12-01;1.234,5;EUR\n"
          "o3;L1;2026-12-01;7;EUR\n"
          "o4;L1,2;2026-12-01;12,5x;EUR\n"
          "o5;L1;2026-12-01;1.500;EUR\n"
          "o6;L1;2026-12-01;1.5;EUR\n")
    write(tmp_path, "orders/_format.yml", "delimiter: ';'\ndecimal: ','\n")
    assert rows(load(tmp_path), "select order_id, lead_id, amount from landing.orders "
                                "order by _source_row") == [
        ("o1", "L1", "12.50"), ("o2", "L1", "1234.5"), ("o3", "L1", "7"),
        ("o4", "L1,2", "12,5x"),  # not a number: kept as delivered (staging quarantines it)
        ("o5", "L1", "1500"),  # a thousands point
        ("o6", "L1", "1.5"),  # not a group of three: left alone
    ]


def test_day_first_dates_become_iso_text(tmp_path):
    write(tmp_path, "orders/eu.csv",
          "order_id,lead_id,ordered_at,amount,updated_at\n"
          "o1,L1,03/12/2026,1,03/12/2026 10:30\n"
          "o2,L1,2026-12-04T08:00:00Z,1,\n"
          "o3,L1,31/02/2026,1,yesterday\n")
    write(tmp_path, "orders/_format.yml", "date_format: ['%d/%m/%Y %H:%M', '%d/%m/%Y']\n")
    assert rows(load(tmp_path), "select order_id, ordered_at, updated_at from landing.orders "
                                "order by _source_row") == [
        ("o1", "2026-12-03", "2026-12-03T10:30:00"),
        ("o2", "2026-12-04T08:00:00Z", None),  # already ISO: unchanged
        ("o3", "31/02/2026", "yesterday"),  # no such day: kept, staging quarantines it
    ]


def test_an_export_in_every_dialect_is_staged_not_quarantined(tmp_path):
    """Windows-1252, semicolons, decimal commas and day-first dates, gzipped, through
    staging: the rows the options normalise are staged with the parsed values."""
    settings = make_settings(tmp_path)
    text = ("order_id;lead_id;ordered_at;amount;currency;status\r\n"
            "o1;L1;01.12.2026;12,50;EUR;completed\r\n"
            "o2;L1;02.12.2026;1.234,00;EUR;completed\r\n"
            "o3;L2;02.12.2026;kein Betrag;EUR;completed\r\n")
    write(settings.landing_dir, "orders/export.csv.gz", gzip.compress(text.encode("cp1252")))
    write(settings.landing_dir, "orders/_format.yml",
          "encoding: windows-1252\ndelimiter: ';'\ndecimal: ','\ndate_format: '%d.%m.%Y'\n")
    pipeline.load_landing(settings)
    pipeline.run_dbt(settings, ["build", "--quiet", "--select", "+stg_landing__orders",
                                "+quarantined_rows", "--exclude-resource-type", "unit_test", "test"],
                     as_of=AS_OF, quiet=True)
    staged = query(settings, "select order_id, strftime(ordered_at, '%Y-%m-%d') as day, "
                             "amount from staging.stg_landing__orders order by order_id")
    assert staged.values.tolist() == [["o1", "2026-12-01", 12.5], ["o2", "2026-12-02", 1234.0]]
    quarantined = query(settings, "select source_file, source_row, reason "
                                  "from quarantine.quarantined_rows")
    assert quarantined.values.tolist() == [["orders/export.csv.gz", 3, "non_numeric_amount"]]


# ------------------------------------------------------------------ the options file


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("delimiter: ';'\nseparator: ';'\n", "unknown option(s) separator; the options are "
                                              "encoding, delimiter, quote, decimal, date_format"),
        ("encoding: klingon\n", "encoding must be a text encoding such as utf-8, windows-1252"),
        ("delimiter: ';;'\n", "delimiter must be one character"),
        ("decimal: 'x'\n", "decimal must be '.' (the default) or ','"),
        ("date_format: '%Y'\n", "date_format '%Y' is not a date format"),
        ("date_format: '%d/%m/%Y %z'\n", "unknown: %z"),
        ("- delimiter\n", "expected a mapping of options"),
        ("delimiter: [\n", "is not valid YAML"),
    ],
)
def test_a_bad_format_file_is_an_error_naming_it_and_the_accepted_form(tmp_path, text, expected):
    write(tmp_path, "orders/o.csv", f"{ORDER_HEADER}\no1,L1,2026-12-01,1,EUR\n")
    options = write(tmp_path, "orders/_format.yml", text)
    named, problem = refused(tmp_path)
    assert named == options
    assert expected in problem, problem


def test_options_are_validated_before_any_file_is_read():
    with pytest.raises(FormatOptionsError, match="orders/_format.yml: quote must be one character"):
        parse_options({"quote": ""}, "orders/_format.yml")
    assert parse_options({"delimiter": "\\t"}, "x").delimiter == "\t"
    assert parse_options({"encoding": "CP1252"}, "x").encoding == "cp1252"


def test_the_gate_names_the_option_for_decimal_commas_and_day_first_dates(tmp_path):
    from orchestration.quality.landing_suite import Example, _option_hint

    assert _option_hint("decimal_comma", Example("orders/eu.csv", 1, "amount", "12,50")) == (
        "Set `decimal: ','` in orders/_format.yml (or convert the file and deliver it again)")
    assert _option_hint("day_first", Example("orders/eu.csv", 1, "ordered_at", "02.06.2026")) \
        .startswith("Set `date_format: '%d.%m.%Y'` in orders/_format.yml")
    assert "'%d/%m/%y'` (with the time part" in _option_hint(
        "day_first", Example("events/e.csv", 1, "occurred_at", "02/06/26 10:00"))


@pytest.mark.parametrize("target", ["folder", "file"])
def test_leadscore_validate_reads_a_delivery_with_its_format_file(tmp_path, target):
    from orchestration.validate import validate_delivery

    settings = make_settings(tmp_path / "work")
    delivery = tmp_path / "delivery"
    write(delivery, "leads/crm.csv", WINDOWS_1252.encode("cp1252"))
    write(delivery, "leads/_format.yml", "encoding: windows-1252\n")
    found = validate_delivery(delivery if target == "folder" else delivery / "leads" / "crm.csv",
                              settings)
    assert found.unreadable == []
    assert [(entity, rows) for entity, _, rows in found.files] == [("leads", 2)]


def test_a_format_file_where_it_would_not_apply_is_an_error(tmp_path):
    write(tmp_path, "orders/2026/o.csv", f"{ORDER_HEADER}\no1,L1,2026-12-01,1,EUR\n")
    nested = write(tmp_path, "orders/2026/_format.yml", "delimiter: ','\n")
    named, problem = refused(tmp_path)
    assert named == nested
    assert problem.startswith("the options of orders/ are read from orders/_format.yml only"), problem
    nested.rename(tmp_path / "orders" / "_format.yaml")
    named, problem = refused(tmp_path)
    assert named == tmp_path / "orders" / "_format.yml"
    assert "found orders/_format.yaml instead" in problem, problem
    (tmp_path / "orders" / "_format.yaml").rename(tmp_path / "orders" / "_format.yml")
    assert rows(load(tmp_path), "select order_id from landing.orders") == [("o1",)]


@pytest.mark.parametrize(("name", "options"), [("o.tsv", None), ("o.txt.csv", "delimiter: '\\t'\n")])
def test_tab_separated_files(tmp_path, name, options):
    write(tmp_path, f"orders/{name}", "order_id\tlead_id\tordered_at\tamount\no;1\tL1\t2026-12-01\t2\n")
    if options:
        write(tmp_path, "orders/_format.yml", options)
    assert rows(load(tmp_path), "select order_id, amount from landing.orders") == [("o;1", "2")]
