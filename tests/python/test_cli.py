"""The command line: reachable, documented, strict about its arguments, flags beside the
environment, and ``leadscore validate`` on good and bad deliveries."""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from fixtures_orchestration import PROJECT_ROOT
from landing_fixtures import EXPECTED_QUARANTINE, write_bad_landing

from orchestration import cli
from orchestration.config import Settings
from orchestration.generator.cli import build_parser as generator_parser


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every LEADSCORE_* path in tmp_path (the landing folder does not exist)."""
    for name, value in {
        "LEADSCORE_LANDING_DIR": tmp_path / "env_landing",
        "LEADSCORE_DUCKDB_PATH": tmp_path / "env.duckdb",
        "LEADSCORE_SERVING_DIR": tmp_path / "env_serving",
        "LEADSCORE_GX_DOCS_DIR": tmp_path / "env_gx_docs",
        "LEADSCORE_DUCKDB_TEMP_DIR": tmp_path / "env_tmp",
    }.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("LEADSCORE_DUCKDB_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("LEADSCORE_DUCKDB_THREADS", "2")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return tmp_path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``leadscore ARGV`` in process: (exit code, stdout, stderr)."""
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------ arguments


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["generate", "--out", "x", "--leads", "0"],
         "leadscore generate: error: argument --leads: must be a whole number, at least 1, got '0'"),
        (["generate", "--out", "x", "--days", "-3"], "argument --days: must be a whole number"),
        (["generate", "--out", "x", "--end-date", "01.06.2026"],
         "argument --end-date: must be a date YYYY-MM-DD"),
        (["generate", "--out", "x", "--bad-row-share", "1.5"], "argument --bad-row-share"),
        (["run", "--as-of", ""],
         "leadscore run: error: argument --as-of: must be a date (YYYY-MM-DD) or an ISO-8601 "
         "timestamp"),
        (["run", "--as-of", "2026-13-01"], "got '2026-13-01'"),
        (["backtest", "--as-of", " "], "leadscore backtest: error: argument --as-of: must be a date"),
        (["backtest", "--as-of", "2026-10-01", "--horizon-days", "0"],
         "argument --horizon-days: must be a whole number of days, at least 1, got '0'"),
        (["bench", "--scale", "huge"], "argument --scale: invalid choice: 'huge'"),
        (["validate"], "leadscore validate: error: the following arguments are required: PATH"),
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_bad_arguments_are_one_line_and_exit_2(
    isolated_env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (out, err)
    (line,) = err.splitlines()  # one line: no usage block, no traceback
    assert expected in line and line.startswith("leadscore"), line
    assert line.endswith("--help)")  # where to read more
    assert not (isolated_env / "env.duckdb").exists()  # before any work


def _parsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    parsers = {"leadscore": parser, **commands.choices, "generate": generator_parser()}
    return parsers


@pytest.mark.parametrize("command", ["leadscore", "run", "validate", "backtest", "train",
                                     "predict", "report", "bench", "generate", "erase"])
def test_every_command_documents_its_arguments_and_defaults(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    argv = ["--help"] if command == "leadscore" else [command, "--help"]
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and out.startswith(f"usage: {'leadscore' if command == 'leadscore' else ''}")
    for action in _parsers()[command]._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = action.option_strings[-1] if action.option_strings else action.metavar
        assert action.help, f"{command} {name} has no help"
        assert (action.option_strings[-1] if action.option_strings else action.metavar) in out
        if action.option_strings and not action.required:
            assert "default" in action.help, f"{command} {name}: the default is not documented"


# ------------------------------------------------------------------ flags over environment


def test_path_flags_override_the_environment(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = cli.build_parser()
    from_env = cli.settings_of(parser.parse_args(["run"]))
    assert from_env.landing_dir == isolated_env / "env_landing"
    assert from_env.duckdb_path == isolated_env / "env.duckdb"
    assert from_env.serving_dir == isolated_env / "env_serving"

    monkeypatch.chdir(isolated_env)  # a relative flag is relative to the current folder
    args = parser.parse_args(["run", "--landing-dir", "flag_landing", "--warehouse",
                              str(isolated_env / "flag.duckdb"), "--serving-dir", "flag_serving"])
    settings = cli.settings_of(args)
    assert settings.landing_dir == isolated_env / "flag_landing"
    assert settings.duckdb_path == isolated_env / "flag.duckdb"
    assert settings.serving_dir == isolated_env / "flag_serving"
    assert settings.gx_docs_dir == isolated_env / "env_gx_docs"  # no flag: the environment
    # dbt (a subprocess) reads the same paths
    env = settings.dbt_env()
    assert env["LEADSCORE_LANDING_DIR"] == str(isolated_env / "flag_landing")
    assert env["LEADSCORE_DUCKDB_PATH"] == str(isolated_env / "flag.duckdb")
    assert env["LEADSCORE_SERVING_DIR"] == str(isolated_env / "flag_serving")
    backtest = cli.settings_of(parser.parse_args(
        ["backtest", "--as-of", "2026-10-01", "--warehouse", "other.duckdb"]))
    assert backtest.duckdb_path == isolated_env / "other.duckdb"
    assert Settings.from_env({"landing_dir": None}).landing_dir == isolated_env / "env_landing"


def test_a_missing_landing_dir_flag_is_named_in_one_line(
    isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (isolated_env / "env_landing").mkdir()  # the environment's folder exists; the flag's not
    missing = isolated_env / "landnig"
    code, _, err = run_cli(capsys, "run", "--landing-dir", str(missing), "--as-of", "2026-10-01")
    assert code == 1
    (line,) = err.splitlines()
    assert line == (f"leadscore: error: landing folder {missing} does not exist; set "
                    "--landing-dir to the folder that holds the events/, leads/ and orders/ "
                    "sub-folders (or create it)")


# ---------------------------------------------------------------------- the wrapper


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_the_wrapper_runs_the_venv_command_and_sets_it_up_when_missing(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy2(PROJECT_ROOT / "leadscore", checkout / "leadscore")
    # `make setup` is stood in for by a fake make that creates the venv's command
    fake_bin = tmp_path / "bin"
    _executable(fake_bin / "make", f"""#!/usr/bin/env bash
echo "make $*" >> {tmp_path / 'make.log'}
mkdir -p {checkout}/.venv/bin
printf '#!/usr/bin/env bash\\necho "venv leadscore $*"\\n' > {checkout}/.venv/bin/leadscore
chmod +x {checkout}/.venv/bin/leadscore
""")
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    first = subprocess.run([str(checkout / "leadscore"), "run", "--as-of", "2026-10-01"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "venv leadscore run --as-of 2026-10-01\n"
    assert "running 'make setup' first" in first.stderr
    assert (tmp_path / "make.log").read_text() == f"make -C {checkout} --no-print-directory setup\n"
    second = subprocess.run([str(checkout / "leadscore"), "--help"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert second.stdout == "venv leadscore --help\n" and second.stderr == ""
    assert (tmp_path / "make.log").read_text().count("make") == 1  # set up once


# ------------------------------------------------------------------------- validate


def good_delivery(root: Path) -> Path:
    events = root / "events" / "day1.csv"
    events.parent.mkdir(parents=True)
    events.write_text("event_id,occurred_at,lead_id,event_type\n" + "".join(
        f"e{i},2026-06-01T10:{i % 60:02d}:00Z,L{i % 9},page_view\n" for i in range(80)))
    orders = root / "orders" / "day1.jsonl"
    orders.parent.mkdir(parents=True)
    orders.write_text('{"order_id": "o1", "lead_id": "L1", "ordered_at": "2026-06-01T11:00:00Z", '
                      '"amount": "19.90"}\n')
    return root


def test_validate_a_good_delivery(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    delivery = good_delivery(isolated_env / "delivery")
    code, out, err = run_cli(capsys, "validate", str(delivery))
    assert code == 0, out + err
    assert out.startswith(f"Validated {delivery} against the landing contract (nothing was "
                          "loaded): 2 readable file(s), 81 rows.")
    assert "events: 1 file(s), 80 rows; no row would be quarantined" in out
    assert "Result: the delivery would load, no row quarantined." in out
    # a single file, in its entity folder, is a delivery too
    code, out, _ = run_cli(capsys, "validate", str(delivery / "orders" / "day1.jsonl"))
    assert code == 0 and "orders: 1 file(s), 1 rows" in out
    # nothing was loaded anywhere: no warehouse, no Data Docs
    assert not (isolated_env / "env.duckdb").exists()
    assert not (isolated_env / "env_gx_docs").exists()


def test_validate_a_bad_delivery(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    delivery = isolated_env / "delivery"
    write_bad_landing(delivery)
    flood = delivery / "events" / "events_2026-10-03.csv"
    flood.write_text("event_id,occurred_at,lead_id,event_type\n" + "".join(
        f"f{i},2026-10-03T10:00:00Z,L1,{'hover' if i % 3 else 'page_view'}\n" for i in range(60)))
    (delivery / "leads" / "crm_export.csv").write_bytes(b"lead_id,city\nL7,K\xf6ln\n")
    code, out, _ = run_cli(capsys, "validate", str(delivery))
    assert code == 1, out
    assert ("UNREADABLE leads/crm_export.csv: is not UTF-8: line 2, character 5 is the byte "
            "0xf6") in out
    assert ("BLOCKED events/events_2026-10-03.csv: 40 of 60 rows (66.7%) would be quarantined, "
            "more than the landing gate's 20% (LEADSCORE_MAX_QUARANTINE_SHARE)") in out
    # per reason: the count and the first rows, with file, row, column and value
    assert "unknown_event_type                   41  e.g. event_type 'hover' (file " \
        "events/events_2026-10-01.csv, row 7); event_type 'hover' (file " \
        "events/events_2026-10-03.csv, row 2)" in out
    assert "occurred_at 'yesterday' (file events/events_2026-10-01.csv, row 4)" in out
    assert "amount '12,5x' (file orders/orders_2026-10-01.jsonl, row 3)" in out
    assert out.rstrip().splitlines()[-2] == (
        "Result: this delivery would not load: 1 file(s) cannot be read (a load stops at "
        "them); the landing gate would block the events file(s) above.")
    assert not (isolated_env / "env.duckdb").exists()
    # a file outside an entity folder needs --entity (an argument error: exit 2)
    loose = isolated_env / "export.csv"
    shutil.copy2(flood, loose)
    code, _, err = run_cli(capsys, "validate", str(loose))
    assert code == 2 and err.startswith(f"leadscore validate: error: cannot tell which entity "
                                        f"{loose} holds")
    code, out, _ = run_cli(capsys, "validate", str(loose), "--entity", "events")
    assert code == 1 and "BLOCKED export.csv: 40 of 60 rows" in out


def test_validate_counts_what_staging_quarantines(isolated_env: Path) -> None:
    """The same classification as staging (EXPECTED_QUARANTINE is what the staging tests
    find in the warehouse); re-deliveries need the warehouse and are not judged here."""
    from orchestration.validate import validate_delivery

    write_bad_landing(isolated_env / "delivery")
    result = validate_delivery(isolated_env / "delivery", Settings.from_env())
    expected: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for _, _, entity, reason in EXPECTED_QUARANTINE:
        if not reason.endswith("_redelivery"):
            expected[entity][reason] += 1
    found = {entity: collections.Counter(report.extra["would_quarantine"])
             for entity, report in result.reports.items()}
    assert found == dict(expected)
    assert result.passed  # small files: reported, not blocked
