"""Messages a person can act on: what failed, where (file, row, column), why, what to do.

Each message is read here as a user reads it: one statement first, no doubled prefix, no
raw library dump, the landing contract's expectation and the way out.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest
from fixtures_orchestration import Workspace, orchestration_session, workspace  # noqa: F401

from orchestration import landing, pipeline
from orchestration.quality import QualityGateFailed
from orchestration.quality.landing_suite import LandingGate

#: DuckDB's own text, which must not be what a user reads first (it is logged under -v).
LIBRARY_DUMP = ("Invalid Input Error", "LINE 1:", "Possible Solution", "Original Line",
                "Try auto-detecting", "^")

ORDER = '{"order_id": "o1", "lead_id": "L1", "ordered_at": "2026-06-01", "amount": 1}'


def load_error(root: Path, relative: str, content: bytes) -> tuple[Path, str]:
    """The message of loading one landing file that cannot be loaded."""
    path = root / "landing" / relative
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(landing.LandingFileError) as caught:
        landing.load(duckdb.connect(), root / "landing")
    message = str(caught.value)
    prefix = f"landing file {path}: "
    assert message.startswith(prefix), message
    rest = message[len(prefix):]
    assert "landing file" not in rest and str(path) not in rest, message  # said once
    assert not any(dump in message for dump in LIBRARY_DUMP), message
    assert "\n" not in message  # one statement
    return path, rest


@pytest.mark.parametrize(
    ("relative", "content", "expected"),
    [
        pytest.param(  # a CSV exported as Windows-1252 / Latin-1
            "leads/crm.csv", b"lead_id,city\nL1,Berlin\nL2,M\xfcnchen\n",
            ["is not UTF-8: line 3, character 5 is the byte 0xfc",
             "('\xfc' in windows-1252", "set the file's encoding, e.g. `encoding: windows-1252`, "
             "in leads/_format.yml", "convert the file", "iconv -f WINDOWS-1252 -t UTF-8 crm.csv"],
            id="non-utf8-csv"),
        pytest.param(
            "leads/crm.jsonl.gz", gzip.compress(b'{"lead_id": "L1", "city": "M\xfcnchen"}\n'),
            ["is not UTF-8: line 1", "0xfc", "`encoding: windows-1252`", "convert the file"],
            id="non-utf8-jsonl-gz"),
        # JSON arrays load (tests/python/test_landing_dialects.py)
        pytest.param(
            "orders/broken.jsonl", f"{ORDER}\n{{\"order_id\": \"o2\", oops}}\n".encode(),
            ["line 2 is not valid JSON", "expects JSON lines (one JSON object per line)"],
            id="bad-json-line"),
        pytest.param(  # a decimal comma in a comma-separated file, unquoted
            "orders/eu.csv",
            b"order_id,lead_id,ordered_at,amount\no1,L1,2026-06-01,12.5\no2,L1,2026-06-01,12,50\n",
            ["line 3 has 5 fields where the header has 4", "decimal comma as in 12,50",
             'must be quoted ("12,50")'],
            id="ragged-csv"),
        pytest.param(
            "events/day.parquet", b"this is not parquet",
            ["cannot be read as Parquet (No magic bytes found at end of file)",
             "expects a Parquet file", "complete"],
            id="corrupt-parquet"),
        pytest.param(
            "events/notes.txt", b"hello",
            ["unsupported file type .txt", "the landing contract reads Parquet",
             "names starting with '.' or '_' are skipped"],
            id="unknown-type"),
        pytest.param(
            "orders/o.csv", b"order_id,lead_id,ordered_at\no1,L1,2026-10-01\n",
            ["required column(s) amount missing; the file has: lead_id, order_id, ordered_at",
             "requires order_id, lead_id, ordered_at, amount", "rename or add the columns"],
            id="missing-column"),
    ],
)
def test_an_unreadable_file_says_what_the_contract_expects(
    tmp_path: Path, relative: str, content: bytes, expected: list[str]
) -> None:
    _, problem = load_error(tmp_path, relative, content)
    for text in expected:
        assert text in problem, problem


def test_unsupported_value_formats_say_what_the_contract_expects(workspace: Workspace) -> None:
    """A European export (semicolons, decimal comma, day-first dates) is read, but every
    row would be quarantined: the gate says which format the contract expects."""
    path = workspace.landing_dir / "orders" / "eu.csv"
    path.parent.mkdir(parents=True)
    rows = [f"o{i};L{i};{i % 28 + 1:02d}.06.2026;12,50" for i in range(1, 61)]
    path.write_text("order_id;lead_id;ordered_at;amount\n" + "\n".join(rows) + "\n")
    settings = workspace.settings()
    with pytest.raises(QualityGateFailed) as caught:
        pipeline.load_landing(settings, inspect=LandingGate(settings))
    message = str(caught.value)
    assert message.splitlines()[0].startswith(
        "more than 20% of the rows of 1 orders file(s) would be quarantined")
    assert ("amount: values such as '12,50' (file orders/eu.csv, row 1) use a decimal comma; "
            "the landing contract expects a plain number with a decimal point (12.50)") in message
    assert ("ordered_at: values such as '02.06.2026' (file orders/eu.csv, row 1) look like "
            "day-first (European) dates; the landing contract expects ISO-8601") in message
    assert "convert the file" in message
    assert "unparseable_timestamp        60  e.g. ordered_at '02.06.2026' (file orders/eu.csv, " \
        "row 1)" in message


def test_check_names_say_what_they_check(workspace: Workspace) -> None:
    path = workspace.landing_dir / "events" / "day.csv"
    path.parent.mkdir(parents=True)
    path.write_text("event_id,occurred_at,lead_id,event_type\n"
                    "e1,2026-06-01T10:00:00Z,L1,page_view\ne2,yesterday,L1,page_view\n")
    settings = workspace.settings()
    gate = LandingGate(settings)
    pipeline.load_landing(settings, inspect=gate)
    (report,) = gate.reports
    lines = [o.describe() for o in report.outcomes]
    # GX type names (expect_column_values_to_be_null on occurred_at__invalid) read as the
    # opposite of the check; the check is its column and what it expects, in words
    assert not any("expect_" in line or "__invalid" in line for line in lines), lines
    assert any(line.startswith("FAILED (warning) occurred_at: parses as an ISO-8601 timestamp; "
                               "found 1 of 2 (50.0%) do not parse; e.g. 'yesterday' (file "
                               "events/day.csv, row 2)") for line in lines), lines
    assert any(line.startswith("ok at most 20% of each file's rows would be quarantined")
               for line in lines), lines
