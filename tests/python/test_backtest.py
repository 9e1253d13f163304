"""``leadscore backtest`` refuses what it cannot measure and says how much it measured.

The shop is conftest's ``generated_warehouse`` (data through 2026-10-31). Argument errors
must come before any work: no warehouse copy, no dbt.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from orchestration.backtest import CannotMeasure, evaluate, run_backtest
from warehouse_helpers import GENERATED_AS_OF


def leadscore(settings, *args: str) -> subprocess.CompletedProcess[str]:
    """``leadscore ...`` in a subprocess against the warehouse of ``settings``."""
    env = {**os.environ, **settings.dbt_env()}
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("leadscore")]


@pytest.mark.parametrize("horizon", ["0", "-3", "seven"])
def test_horizon_must_be_a_positive_number_of_days(generated_warehouse, horizon: str) -> None:
    proc = leadscore(generated_warehouse, "backtest", "--as-of", "2026-10-20",
                     "--horizon-days", horizon)
    assert proc.returncode == 2, proc.stdout
    assert (f"argument --horizon-days: must be a whole number of days, at least 1, "
            f"got '{horizon}'") in proc.stderr
    if horizon != "seven":
        with pytest.raises(ValueError, match="--horizon-days must be a whole number of days"):
            run_backtest(generated_warehouse, as_of="2026-10-20", horizon_days=int(horizon))


def test_a_missing_truth_dir_is_refused_before_any_work(generated_warehouse, tmp_path: Path) -> None:
    missing = tmp_path / "truht"
    started = time.monotonic()
    with pytest.raises(FileNotFoundError, match=f"--truth-dir {missing} does not exist"):
        run_backtest(generated_warehouse, as_of="2026-10-20", truth_dir=missing)
    empty = tmp_path / "truth"
    (empty / "orders").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=f"--truth-dir {empty} holds no order files"):
        run_backtest(generated_warehouse, as_of="2026-10-20", truth_dir=empty)
    assert time.monotonic() - started < 5  # no warehouse copy, no dbt
    proc = leadscore(generated_warehouse, "backtest", "--as-of", "2026-10-20",
                     "--truth-dir", str(missing))
    assert proc.returncode == 1
    (line,) = error_lines(proc)
    assert line.startswith(f"leadscore: error: --truth-dir {missing} does not exist")


def test_a_window_past_the_data_is_refused(generated_warehouse, tmp_path: Path) -> None:
    # the data ends 2026-10-31: nothing is known of the 30 days after 2026-11-01
    started = time.monotonic()
    proc = leadscore(generated_warehouse, "backtest", "--as-of", GENERATED_AS_OF,
                     "--out", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stdout
    (line,) = error_lines(proc)
    assert "nothing to measure" in line and "2026-10-31" in line and "--as-of" in line
    assert "nan" not in proc.stdout and not (tmp_path / "out").exists()
    assert time.monotonic() - started < 30  # refused before dbt rebuilt anything


def test_a_truncated_window_is_measured_with_a_warning(generated_warehouse, tmp_path: Path) -> None:
    result = run_backtest(generated_warehouse, as_of="2026-10-25", horizon_days=30,
                          out_dir=tmp_path / "out")
    assert result.covered_days == 7  # 2026-10-25 .. 2026-10-31
    (warning,) = result.warnings
    assert "covers only 7 of 30 days" in warning and "2026-10-31" in warning
    assert "biased" in warning
    assert f"WARNING: {warning}" in result.format()
    assert '"covered_days": 7' in (tmp_path / "out" / "backtest-2026-10-25.json").read_text()
    # a window the data covers is measured without a word
    covered = run_backtest(generated_warehouse, as_of="2026-10-25", horizon_days=7)
    assert covered.warnings == [] and covered.covered_days == 7
    assert covered.converters == result.converters


def frame(converted: list[int]) -> pd.DataFrame:
    n = len(converted)
    scores = {c: [float(i) for i in range(n)] for c in (
        "lead_score", "behaviour_score", "demographic_score", "engagement_score",
        "page_intent_score", "purchase_score")}
    return pd.DataFrame({**scores, "lifecycle_stage": ["known"] * n, "converted": converted})


@pytest.mark.parametrize(("converted", "expected"), [
    ([0] * 20, "no lead placed an order"),
    ([1] * 20, "every lead placed an order"),
    ([], "no leads were scored"),
])
def test_undefined_metrics_are_refused(converted: list[int], expected: str) -> None:
    with pytest.raises(CannotMeasure, match=expected):
        evaluate(frame(converted), "2026-10-01 00:00:00", 30, "orders in the warehouse")
