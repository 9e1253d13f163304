"""The score report: ``$LEADSCORE_SERVING_DIR/report/index.html``, one self-contained page
(works offline) with the score distribution, the fit grade x engagement tier grid (leads,
and conversion from the latest backtest), the lifecycle funnel, conversion and lift per
score decile, calibration, score movement since the previous published scoring, the most
frequent reasons, category interest, the run's quarantine and the quality gates.

It is written after every published refresh (the ``score_report_html`` step of the
refresh job) and by ``leadscore report``, from the serving layer only (never the
warehouse, which a refresh may hold): :mod:`.data` reads, :mod:`.charts` draws,
:mod:`.page` writes the HTML.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestration.config import Settings

REPORT_DIR = "report"
REPORT_NAME = "index.html"


def report_path(serving_dir: Path) -> Path:
    return serving_dir / REPORT_DIR / REPORT_NAME


@dataclass(frozen=True)
class Report:
    path: Path
    size_bytes: int
    #: The charts drawn (keys) and those replaced by a note (key -> why).
    charts: list[str]
    notes: dict[str, str]

    def describe(self) -> str:
        noted = f"; {len(self.notes)} shown as a note (no data)" if self.notes else ""
        return (f"{self.path} ({self.size_bytes / 1e6:.2f} MB, {len(self.charts)} charts"
                f"{noted})")


def write(serving_dir: Path, backtest_dir: Path | None = None) -> Report:
    """Build the page from the serving layer in ``serving_dir`` (and the latest backtest
    in ``backtest_dir``) and replace ``report/index.html`` atomically."""
    from orchestration.report import charts as chart_builders
    from orchestration.report import data as report_data
    from orchestration.report import page

    data = report_data.load(serving_dir, backtest_dir)
    charts = chart_builders.build_all(data)
    text = page.render(data, charts)
    path = report_path(serving_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{REPORT_NAME}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return Report(
        path=path,
        size_bytes=path.stat().st_size,
        charts=[c.key for c in charts if c.spec is not None],
        notes={c.key: c.note or "" for c in charts if c.spec is None},
    )


def build(settings: Settings) -> Report:
    """The report of the scoring published in ``settings.serving_dir``, with the latest
    backtest of ``leadscore backtest``'s default folder beside the warehouse."""
    from orchestration.backtest import results_dir

    return write(settings.serving_dir, results_dir(settings))
