"""What ``leadscore run`` shows while it runs and when it ends: progress (live, also when
the output is a log file), output levels (default, ``-v``, ``--log-format json``) and the
run summary. The summary's numbers per run are checked in test_refresh_e2e (its runs)."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from fixtures_orchestration import (  # noqa: F401  (fixtures)
    AS_OF,
    Workspace,
    generate_landing,
    leadscore_command,
    orchestration_session,
    workspace,
)

from orchestration import console, progress, run_summary

STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ")


# ------------------------------------------------------------------ the parts, quickly


def _event(name: str, unique_id: str, **data: object) -> dict:
    node = {"unique_id": unique_id, "node_name": unique_id.split(".")[-1]}
    return {"info": {"name": name}, "data": {"node_info": node, **data}}


def test_dbt_progress_counts_nodes_done_of_total_and_what_runs() -> None:
    state = progress.DbtProgress()
    assert state.update(_event("LogStartLine", "model.p.a", index=1, total=3))
    assert state.update(_event("LogStartLine", "test.p.b", index=2, total=3))
    assert not state.update({"info": {"name": "JinjaLogInfo"}, "data": {}})
    assert state.describe() == "0 of 3 dbt nodes done" and state.running_text() == "a, b"
    assert state.update(_event("LogModelResult", "model.p.a", index=1, total=3, status="OK"))
    assert state.update(_event("LogTestResult", "test.p.b", index=2, status="fail"))
    assert state.describe() == "2 of 3 dbt nodes done (1 failed)" and state.running_text() == ""


def test_plain_progress_says_something_while_nothing_happens() -> None:
    """A long step in a log file: timestamped lines, a heartbeat, never a redrawn line."""
    out = io.StringIO()
    reporter = progress.PlainReporter(out, heartbeat_seconds=0.2, tick_seconds=0.05)
    with progress.install(reporter):
        with progress.step("dbt_models", "Building the models") as step:
            state = progress.DbtProgress()
            progress.dbt_event(state, _event("LogStartLine", "model.p.slow", index=1, total=2))
            time.sleep(0.6)
            step.text = state.describe()
    lines = out.getvalue().splitlines()
    assert all(STAMP.match(line) for line in lines), lines
    assert "\r" not in out.getvalue() and "\033" not in out.getvalue()
    assert lines[0].endswith("Building the models ...")
    assert any("still running (Building the models" in line and "running slow" in line
               for line in lines), lines
    assert re.search(r"Building the models done in \d+\.\d s: 0 of 2 dbt nodes done$", lines[-1])


def test_a_failed_step_is_reported_as_failed() -> None:
    out = io.StringIO()
    with progress.install(progress.PlainReporter(out)):
        with pytest.raises(ValueError), progress.step("landing", "Loading"):
            raise ValueError("boom")
    assert re.search(r"Loading FAILED in \d+\.\d s$", out.getvalue().strip())


def test_the_terminal_line_is_redrawn_and_cleared() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    reporter = progress.reporter_for(out)
    assert isinstance(reporter, progress.TerminalReporter)
    with progress.install(reporter):
        with progress.step("dbt_models", "Building the models"):
            state = progress.DbtProgress()
            progress.dbt_event(state, _event("LogStartLine", "model.p.m", index=1, total=4))
            reporter.tick()
    text = out.getvalue()
    assert "\r\033[2K[0:00] Building the models · 0 of 4 dbt nodes done · running m" in text
    assert text.endswith("\r\033[2K") or "Building the models done in" in text.splitlines()[-1]
    # -v writes log lines between progress lines: no redrawn line then
    assert isinstance(progress.reporter_for(out, verbose=True), progress.PlainReporter)


def test_verbose_logging_drops_library_noise_and_keeps_ours() -> None:
    out = io.StringIO()
    try:
        console.configure(verbose=True, stream=out)
        logging.getLogger("great_expectations._docs_decorators").info("Skipping registering")
        logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
        logging.getLogger("orchestration.landing").info("loaded 3 rows from a.csv")
        logging.getLogger("dagster.builtin.leadscore").info(
            "refresh - 74c83af9-96d9-4c45-bd4f-28c6d85c3e2f - landing - GX suite passed")
        logging.getLogger("alembic.runtime.migration").warning("a real problem")
    finally:
        console.configure(verbose=False)
    text = out.getvalue()
    assert "Skipping registering" not in text and "SQLiteImpl" not in text
    assert "loaded 3 rows from a.csv" in text and "a real problem" in text
    assert "dagster.builtin.leadscore: landing - GX suite passed" in text  # no run id


# --------------------------------------------------------------- whole runs, as a user


def _run_collecting(command: list[str], env: dict[str, str]) -> tuple[int, str, list[tuple]]:
    """Run ``command``; stderr's lines with the time each arrived and whether the process
    was still running then; stdout as a whole."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1)
    seen: list[tuple[float, bool, str]] = []

    def read() -> None:
        for line in proc.stderr:
            seen.append((time.monotonic(), proc.poll() is None, line.rstrip("\n")))

    reader = threading.Thread(target=read)
    reader.start()
    stdout = proc.stdout.read()
    proc.wait(timeout=900)
    reader.join()
    return proc.returncode, stdout, seen


def test_a_run_in_a_log_file_shows_progress_while_it_runs_then_the_summary(
    workspace: Workspace,
) -> None:
    generate_landing(workspace.landing_dir, day_range=(0, 4))
    code, stdout, seen = _run_collecting(leadscore_command("run", "--as-of", AS_OF),
                                         workspace.subprocess_env())
    assert code == 0, stdout + "\n".join(line for *_, line in seen)
    ended = time.monotonic()
    lines = [line for *_, line in seen]
    assert lines and all(STAMP.match(line) for line in lines), lines  # timestamped, no noise
    started = [(at, running) for at, running, line in seen
               if line.endswith("Building and testing the dbt models ...")]
    counted = [(at, running) for at, running, line in seen if "dbt nodes done" in line]
    assert started and started[0][1], "the dbt step was announced while the run was going on"
    assert counted and counted[0][1] and counted[0][0] < ended - 1
    assert re.search(r"\d+ of \d+ dbt nodes done", "\n".join(lines))
    # the summary on stdout, for a person who never saw the project
    assert "Refresh run " in stdout and "Loaded now: " in stdout
    assert "Quarantined in all loads so far (all time)" in stdout
    assert "Leads: " in stdout and "the first publication" in stdout
    assert "Top leads (" in stdout and "Campaigns: leads per recommended action" in stdout
    assert str(workspace.serving_dir / run_summary.SUMMARY_NAME) in stdout
    # the score report, written by the run's last step, with its path and size
    page = workspace.serving_dir / "report" / "index.html"
    assert f"Score report (one page, works offline; `leadscore report` rebuilds it): {page} (" \
        in stdout and page.stat().st_size > 100_000
    assert run_summary.read(workspace.serving_dir)["report"]["path"] == str(page)
    assert "dbt nodes done" not in stdout  # progress is not mixed into the summary


def test_verbose_json_logs_are_json_once_each_without_library_noise(
    workspace: Workspace,
) -> None:
    generate_landing(workspace.landing_dir, day_range=(0, 3))
    code, stdout, seen = _run_collecting(
        leadscore_command("-v", "--log-format", "json", "run", "--as-of", AS_OF),
        workspace.subprocess_env())
    records = [json.loads(line) for *_, line in seen]  # every line is a JSON object
    assert code == 0, stdout + "\n".join(str(r) for r in records)
    loggers = {r["logger"] for r in records}
    assert not any(name.startswith(("alembic", "great_expectations._docs")) for name in loggers)
    assert {"step_started", "step_finished"} <= {r.get("event") for r in records}
    messages = [r["message"] for r in records if r["logger"].startswith("dagster")]
    assert any(m.startswith("dbt_models - Running dbt command") for m in messages), messages
    assert len(messages) == len(set(messages)), "a Dagster line is printed twice"
    summary = json.loads(stdout)  # the run summary, as written beside the serving manifest
    assert summary == run_summary.read(workspace.serving_dir)
    assert summary["load"]["rows"] > 0 and summary["leads"]["scored"] > 0
