"""The quality gates' results as one page that reads offline: ``$LEADSCORE_GX_DOCS_DIR/index.html``.

GX's own Data Docs load Bootstrap, jQuery and fonts from CDNs (the installed package ships
none of them), so without internet they render as unstyled text. This page is the
project's own: inline styles, no scripts, every validation of every gate with its status,
time and outcomes on the page itself, newest first. It links to GX's page of a validation
only when that file exists, saying that it needs the internet for its styles.

Each validation is kept as one JSON line in ``validations.jsonl`` beside the page (the
newest ``MAX_VALIDATIONS``), because every run builds its GX pages with a new in-memory
context that knows only its own validations.
"""

from __future__ import annotations

import contextlib
import fcntl
import html
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from orchestration.quality.report import SuiteReport

RECORDS = "validations.jsonl"
INDEX = "index.html"
#: Validations listed (older ones are dropped from the list and the records file).
MAX_VALIDATIONS = 500


@dataclass(frozen=True)
class ValidationRecord:
    """One validation of a gate, as listed on the page."""

    gate: str  # landing, mart: the folder of the gate's GX Data Docs
    suite: str
    batch: str
    validated_at: str  # ISO-8601, UTC
    passed: bool
    rows: int
    evaluated: int
    met: int
    warnings: int
    failures: list[str] = field(default_factory=list)  # describe() of each failed expectation
    passes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gx_page: str | None = None  # GX's page of this validation, relative to the index

    @classmethod
    def from_report(cls, gate: str, report: SuiteReport, validated_at: datetime,
                    gx_page: str | None) -> "ValidationRecord":
        return cls(
            gate=gate,
            suite=report.suite,
            batch=report.batch,
            validated_at=validated_at.isoformat(),
            passed=report.passed,
            rows=report.row_count,
            evaluated=report.evaluated,
            met=report.succeeded,
            warnings=len(report.warnings),
            failures=[o.describe() for o in report.outcomes if not o.success],
            passes=[o.describe() for o in report.outcomes if o.success],
            notes=list(report.notes),
            gx_page=gx_page,
        )


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One writer of the records and the page at a time (a UI run beside ``leadscore run``)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / f".{RECORDS}.lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _read(root: Path) -> list[ValidationRecord]:
    path = root / RECORDS
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(ValidationRecord(**json.loads(line)))
        except (ValueError, TypeError):  # a line from another version: skipped, not fatal
            continue
    return records


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def record_validations(root: Path, records: Iterable[ValidationRecord]) -> Path:
    """Add validations to the list under ``root`` and rewrite the page; returns the page."""
    with _locked(root):
        kept = [*_read(root), *records][-MAX_VALIDATIONS:]
        _replace(root / RECORDS, "".join(json.dumps(asdict(r)) + "\n" for r in kept))
        return _write_page(root, kept)


def write_index(root: Path) -> Path:
    """Rewrite the page from the records (e.g. after GX pages were removed)."""
    with _locked(root):
        return _write_page(root, _read(root))


# --------------------------------------------------------------------------- the page

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d2330; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #dde2ea;
         vertical-align: top; }
th { background: #f3f5f9; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.passed { color: #17693a; font-weight: 600; } .failed { color: #b3261e; font-weight: 700; }
.warning { color: #8a5a00; }
section { border: 1px solid #dde2ea; border-radius: 6px; padding: .2rem 1rem .8rem;
          margin-top: 1rem; }
section.failed-validation { border-color: #b3261e; }
ul { padding-left: 1.2rem; } li { margin: .2rem 0; }
code, .outcome { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
.muted { color: #5b6475; font-size: 13px; }
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>leadscore quality gates</title>
<style>{style}</style></head>
<body>
<h1>leadscore quality gates</h1>
<p class="muted">Every Great Expectations validation of the landing gate (each load's new
rows, before they are loaded) and the mart gate (<code>marts.lead_scores</code>, before it is
published), newest first; the latest {limit} are kept. Written by <code>leadscore run</code>
and the Dagster runs; this page needs no internet.{gx_sites}</p>
{body}
</body></html>
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _stamp(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return iso


def _status(record: ValidationRecord) -> str:
    text = ("<span class=\"passed\">passed</span>" if record.passed
            else "<span class=\"failed\">FAILED</span>")
    if record.warnings:
        text += f" <span class=\"warning\">({record.warnings} warning(s))</span>"
    return text


def _link(root: Path, relative: str | None, label: str) -> str:
    """A link to a file under ``root``, only when it exists."""
    if not relative or not (root / relative).is_file():
        return ""
    return f'<a href="{_esc(quote(relative))}">{_esc(label)}</a>'


def _items(lines: Sequence[str], css: str = "") -> str:
    attr = f' class="outcome {css}"' if css else ' class="outcome"'
    return "".join(f"<li{attr}>{_esc(line)}</li>" for line in lines)


def _write_page(root: Path, records: list[ValidationRecord]) -> Path:
    newest_first = list(reversed(records))
    rows, sections = [], []
    for n, record in enumerate(newest_first, start=1):
        anchor = f"v{n}"
        gx_link = _link(root, record.gx_page, "GX page")
        rows.append(
            f'<tr class="validation"><td>{_esc(_stamp(record.validated_at))}</td>'
            f"<td>{_esc(record.gate)}</td><td>{_esc(record.batch)}</td>"
            f"<td>{_status(record)}</td><td class=\"num\">{record.rows:,}</td>"
            f"<td class=\"num\">{record.met}/{record.evaluated}</td>"
            f'<td><a href="#{anchor}">details</a>{" · " + gx_link if gx_link else ""}</td></tr>'
        )
        failures = _items(record.failures, "failed")
        passes = _items(record.passes)
        notes = _items(record.notes)
        css = "" if record.passed else ' class="failed-validation"'
        sections.append(
            f'<section id="{anchor}"{css}><h2>{_esc(record.gate)}: {_esc(record.batch)} '
            f"&middot; {_status(record)}</h2>"
            f'<p class="muted">suite <code>{_esc(record.suite)}</code> &middot; '
            f"{_esc(_stamp(record.validated_at))} &middot; {record.rows:,} rows &middot; "
            f"{record.met} of {record.evaluated} expectations met</p>"
            + (f"<ul>{notes}</ul>" if notes else "")
            + (f"<p>Not met:</p><ul>{failures}</ul>" if failures else "")
            + (f"<details><summary>Met ({len(record.passes)})</summary><ul>{passes}</ul>"
               "</details>" if passes else "")
            + (f'<p class="muted">{gx_link} (Great Expectations\' own rendering: its styles '
               "load from the internet)</p>" if gx_link else "")
            + "</section>"
        )
    if rows:
        body = (
            "<table><thead><tr><th>validated</th><th>gate</th><th>batch</th><th>status</th>"
            "<th>rows</th><th>expectations met</th><th></th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>" + "".join(sections)
        )
    else:
        body = "<p>No validation has run yet.</p>"
    sites = [_link(root, f"{gate}/index.html", f"{gate}")
             for gate in sorted({r.gate for r in records})]
    sites = [s for s in sites if s]
    gx_sites = (" Great Expectations' own Data Docs (online styles): " + ", ".join(sites) + "."
                if sites else "")
    path = root / INDEX
    _replace(path, PAGE.format(style=STYLE, limit=MAX_VALIDATIONS, gx_sites=gx_sites, body=body))
    return path
