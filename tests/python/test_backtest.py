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

from orchestration.backtest import (CannotMeasure, compare_rankings, evaluate,
                                   format_propensity, rfm_quintile_sum, run_backtest)
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
                          out_dir=tmp_path / "out", probability=False)
    assert result.covered_days == 7  # 2026-10-25 .. 2026-10-31
    (warning,) = result.warnings
    assert "covers only 7 of 30 days" in warning and "2026-10-31" in warning
    assert "biased" in warning
    assert f"WARNING: {warning}" in result.format()
    assert '"covered_days": 7' in (tmp_path / "out" / "backtest-2026-10-25.json").read_text()
    # a window the data covers is measured without a word
    covered = run_backtest(generated_warehouse, as_of="2026-10-25", horizon_days=7,
                           probability=False)
    assert result.propensity is None and "Purchase probability" not in result.format()
    assert covered.warnings == [] and covered.covered_days == 7
    assert covered.converters == result.converters
    # the backtest's dbt ran in its own target folder: the warehouse's manifests (which mf
    # and Dagster read) still name the warehouse, not the backtest's copy
    target = Path(generated_warehouse.extra_env["DBT_TARGET_PATH"])
    for manifest in ("manifest.json", "semantic_manifest.json"):
        assert '"backtest"' not in (target / manifest).read_text(encoding="utf-8"), manifest


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


def test_the_rfm_baseline_sums_quintiles_of_purchases_before_as_of() -> None:
    as_of = pd.Timestamp("2026-10-01")
    orders = pd.DataFrame({
        "lead_id": ["a", "a", "a", "b", "c", "c", "d", "e", "e"],
        "ordered_at": pd.to_datetime([
            "2026-09-28", "2026-09-20", "2026-09-10", "2026-08-01", "2026-09-25",
            "2026-09-01", "2026-07-01", "2026-09-30", "2026-10-05"]),
        "amount_eur": [50.0, 50.0, 50.0, 900.0, 10.0, 10.0, 5.0, 100.0, 9999.0],
        "counts_as_purchase": [True, True, True, True, True, True, True, False, True],
    })
    leads = pd.Series(["a", "b", "c", "d", "e", "f"])
    total = rfm_quintile_sum(orders, leads, as_of.to_pydatetime()).tolist()
    # ntile(5) over the four customers a-d (1 lowest); tied values share their average rank
    # a: most recent (4), most orders (4), 150 EUR (3): 11
    # b: 2nd oldest (2), one order (tied with d: 1), 900 EUR (4): 7
    # c: 2nd most recent (3), two orders (3), 20 EUR (2): 8
    # d: oldest (1), one order (1), 5 EUR (1): 3
    # e: its purchase is at or after as_of, the earlier order does not count: none; f: none
    assert total == [11, 7, 8, 3, 0, 0]


def test_the_probability_is_compared_with_the_rule_score_on_the_same_leads() -> None:
    converted = [1, 1, 0, 1, 0, 0, 0, 0, 0, 0] * 10
    frame = pd.DataFrame({
        "lead_id": [str(i) for i in range(100)],
        "converted": converted,
        # the probability ranks perfectly, the rule score the other way round
        "purchase_probability": [0.9 if c else 0.05 for c in converted],
        "lead_score": [10 if c else 90 for c in converted],
        "rfm_quintile_sum": [0] * 100,
    })
    frame.loc[0, "purchase_probability"] = None  # leads without a probability are left out
    rankings = compare_rankings(frame)
    assert rankings["purchase_probability"]["rows"] == 99
    assert rankings["purchase_probability"]["auc"] == 1.0
    assert rankings["lead_score"]["auc"] == 0.0 and rankings["rfm_quintile_sum"]["auc"] == 0.5
    assert "calibration_error" not in rankings["lead_score"]
    text = "\n".join(format_propensity({"method": "model", "model_version": "v1",
                                        "notes": [], "rankings": rankings}))
    assert "probability" in text and "rule score" in text and "RFM sum" in text
    auc_line = next(line for line in text.splitlines() if line.strip().startswith("AUC"))
    assert auc_line.split()[1:] == ["1.000", "0.000", "0.500"]
    missing = "\n".join(format_propensity({"method": "unavailable", "model_version": None,
                                           "notes": ["no model"], "rankings": {}}))
    assert "unavailable" in missing and "note: no model" in missing


def test_conversion_is_measured_per_grade_and_tier_cell() -> None:
    # 8 leads in A1 (4 convert), 6 in C3 (1 converts), 6 in D4 (none)
    grid = frame([1, 1, 1, 1, 0, 0, 0, 0] + [1, 0, 0, 0, 0, 0] + [0] * 6)
    grid["fit_grade"] = ["A"] * 8 + ["C"] * 6 + ["D"] * 6
    grid["engagement_tier"] = [1] * 8 + [3] * 6 + [4] * 6
    result = evaluate(grid, "2026-10-01 00:00:00", 30, "orders in the warehouse")
    assert [(c["score_cell"], c["leads"], c["converters"]) for c in result.cells] == [
        ("A1", 8, 4), ("C3", 6, 1), ("D4", 6, 0)]
    assert [round(c["conversion_rate"], 4) for c in result.cells] == [0.5, 0.1667, 0.0]
    assert '"cells"' in result.to_json() and '"mean_score"' in result.to_json()
    # without the grid's columns (an old frame) there are no cells, and nothing fails
    assert evaluate(frame([1, 0, 0, 0]), "2026-10-01 00:00:00", 30, "x").cells == []
