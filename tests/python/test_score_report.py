"""The score report (orchestration.report): one offline page per published scoring.

The serving folders are written directly (report_fixtures: full, events-only and
orders-only shops, hostile text); the refresh that writes the page after publishing is
covered in test_run_output. The browser tests open the page in headless Chromium over the
DevTools protocol and skip only when Chromium is not installed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration import report
from orchestration.report.data import NothingPublished
from orchestration.testing.chromium import find_chromium, inspect_page
from report_fixtures import (HOSTILE_CATEGORY, HOSTILE_FILE, HOSTILE_REASON,
                             HOSTILE_STAGE_LABEL, make_serving)

ALL_CHARTS = ["score_distribution", "grid_leads", "grid_conversion", "funnel", "deciles",
              "calibration", "movement", "reasons", "categories", "quarantine"]
CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; .ci/run "
    "installs it): the page cannot be opened in a browser")


def spec_blocks(page: str) -> dict[str, dict]:
    return {key: json.loads(body) for key, body in re.findall(
        r'<script type="application/json" id="spec-([a-z_]+)">(.*?)</script>', page, re.S)}


def dataset_values(spec: dict) -> list[dict]:
    return [row for rows in spec.get("datasets", {}).values() for row in rows]


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, report.Report]:
    written = {}
    for shape, hostile in (("full", True), ("events_only", False), ("orders_only", False)):
        serving_dir, backtest_dir = make_serving(tmp_path_factory.mktemp(shape), shape, hostile)
        written[shape] = report.write(serving_dir, backtest_dir)
    return written


def test_a_full_shop_gets_every_chart_on_one_offline_page(pages) -> None:
    written = pages["full"]
    page = written.path.read_text(encoding="utf-8")
    assert written.charts == ALL_CHARTS and written.notes == {}
    assert set(spec_blocks(page)) == set(ALL_CHARTS)
    # offline: no address to fetch anything from, and a policy that forbids it anyway
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page)
    assert "default-src 'none'" in page and "window.vegaEmbed=" in page
    assert written.size_bytes == len(page.encode()) < 1_500_000
    # the grid's conversion and the calibration come from the backtest file
    conversion = {row["score_cell"]: row["conversion_rate"]
                  for row in dataset_values(spec_blocks(page)["grid_conversion"])}
    assert conversion["A1"] == pytest.approx(10 / 25) and conversion["D4"] == 0
    series = {row["series"] for row in dataset_values(spec_blocks(page)["calibration"])
              if "series" in row}
    assert series == {"purchase probability", "rule score / 100 (a rank, not a probability)"}


def test_the_funnel_runs_from_anonymous_visitors_to_repeat_customers(pages) -> None:
    spec = spec_blocks(pages["full"].path.read_text(encoding="utf-8"))["funnel"]
    order = spec["layer"][0]["encoding"]["y"]["sort"]
    assert order[0] == "Anonymous visitor" and order[-1] == "Repeat customer"
    assert order.index("Cart abandoner") < order.index("Customer")


def test_an_events_only_shop_gets_notes_where_it_has_no_orders(pages) -> None:
    written = pages["events_only"]
    assert set(written.notes) == {"grid_conversion", "deciles", "calibration", "movement"}
    assert "No backtest yet" in written.notes["deciles"]
    assert "No earlier published scoring" in written.notes["movement"]
    assert "categories" in written.charts
    page = written.path.read_text(encoding="utf-8")
    for key in written.notes:
        assert f'data-note="{key}"' in page and f'id="spec-{key}"' not in page


def test_an_orders_only_shop_gets_a_note_for_category_interest(pages) -> None:
    written = pages["orders_only"]
    assert "categories" not in written.charts
    assert "no product-category signals" in written.notes["categories"]
    assert {"movement", "reasons", "funnel", "grid_leads"} <= set(written.charts)


def test_text_from_the_data_is_escaped_never_markup(pages) -> None:
    page = pages["full"].path.read_text(encoding="utf-8")
    for hostile in (HOSTILE_CATEGORY, HOSTILE_REASON, HOSTILE_FILE, HOSTILE_STAGE_LABEL):
        assert hostile not in page
    assert "<script>window.__pwned" not in page and "<img src=x" not in page
    assert 'onerror="window' not in page and 'onmouseover="window' not in page
    # ... and still there, as data: the category in its chart, the file name in the
    # quality table (HTML-escaped)
    specs = spec_blocks(page)
    assert HOSTILE_CATEGORY in {row.get("product_category")
                                for row in dataset_values(specs["categories"])}
    assert HOSTILE_REASON in {row.get("reason") for row in dataset_values(specs["reasons"])}
    assert "orders/2026-11-01.csv&quot;&gt;&lt;script&gt;window.__pwned=3" in page


def test_a_backtest_written_before_the_cells_existed_gets_a_note(tmp_path: Path) -> None:
    serving_dir, backtest_dir = make_serving(tmp_path, "full")
    path = next(backtest_dir.glob("backtest-*.json"))
    old = json.loads(path.read_text())
    old.pop("cells")
    old["propensity"] = None
    path.write_text(json.dumps(old))
    written = report.write(serving_dir, backtest_dir)
    assert "no conversion per cell" in written.notes["grid_conversion"]
    assert {"deciles", "calibration"} <= set(written.charts)
    page = written.path.read_text(encoding="utf-8")
    assert "The latest backtest has no purchase probability" in page


def test_nothing_published_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NothingPublished, match="no published scoring in .*run `leadscore run`"):
        report.write(tmp_path / "serving")


def test_leadscore_report_rebuilds_the_page_from_the_serving_folder(tmp_path: Path) -> None:
    serving_dir, backtest_dir = make_serving(tmp_path, "orders_only")
    env = {**os.environ, "LEADSCORE_DUCKDB_PATH": str(tmp_path / "nowhere" / "warehouse.duckdb")}
    proc = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "report", "--serving-dir", str(serving_dir),
         "--backtest-dir", str(backtest_dir)],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    page = serving_dir / "report" / "index.html"
    assert f"Score report: {page} (" in proc.stdout and page.exists()
    assert "leadscore: note: categories: No category interest" in proc.stderr
    assert not (tmp_path / "nowhere").exists()  # the warehouse was never opened
    missing = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "report", "--serving-dir",
         str(tmp_path / "empty")], capture_output=True, text=True, env=env, timeout=300)
    assert missing.returncode == 1
    assert missing.stderr.startswith("leadscore: error: no published scoring in ")


@needs_chromium
@pytest.mark.parametrize("shape", ["full", "events_only", "orders_only"])
def test_every_chart_renders_in_chromium_without_an_error(pages, shape: str) -> None:
    written = pages[shape]
    seen = inspect_page(written.path, CHROMIUM, probe="String(window.__pwned)")
    assert seen.state == "done"
    assert seen.errors == []
    assert list(seen.charts) == written.charts
    for key, state in seen.charts.items():
        assert state["rendered"] == "true" and state["svg"] + state["canvas"] >= 1, key
    assert sorted(seen.notes) == sorted(written.notes)
    assert seen.probe == "undefined"  # no injected script ran


@needs_chromium
def test_a_chart_that_cannot_be_drawn_is_seen_by_the_browser_check(tmp_path: Path) -> None:
    """The browser check catches a broken chart (the test above would go red)."""
    serving_dir, backtest_dir = make_serving(tmp_path, "events_only")
    written = report.write(serving_dir, backtest_dir)
    page = written.path.read_text(encoding="utf-8")
    broken = page.replace('"mark":', '"mark": {"type": "no-such-mark"}, "_mark":', 1)
    written.path.write_text(broken, encoding="utf-8")
    seen = inspect_page(written.path, CHROMIUM)
    assert seen.state == "done"
    assert any("could not be drawn" in error for error in seen.errors), seen.errors
    assert [key for key, state in seen.charts.items() if state["rendered"] != "true"]


def test_an_empty_publication_gets_notes_not_an_error(tmp_path: Path) -> None:
    serving_dir, backtest_dir = make_serving(tmp_path, "events_only", leads=0)
    written = report.write(serving_dir, backtest_dir)
    assert written.charts == ["quarantine"]
    assert written.notes["score_distribution"] == "The published scoring has no leads."
    assert "No category interest" in written.notes["categories"]
    assert "0 leads scored as of 2026-12-01" in written.path.read_text(encoding="utf-8")
