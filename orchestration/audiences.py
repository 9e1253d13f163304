"""Campaign audience exports: ``audiences/<campaign>.csv`` in the serving folder.

One CSV per campaign of ``marts.campaign_audiences`` (UTF-8, header, comma, every cell
quoted when needed by Python's csv module) with the leads to send: lead_id, campaign_id,
channel, why, priority, as_of. The control group of each campaign (held out, never to be
sent) is in ``audiences/control/<campaign>.csv`` with the same columns, for the tool that
logs the sends back as ``campaign_sends`` rows with ``is_control = true``.

Every cell is defused against spreadsheet formula injection: a value starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` (OWASP's advice), so a
hostile campaign name or lead id is shown as text, never run, when the file is opened in
Excel or LibreOffice. File names come from campaign ids made safe (:func:`safe_file_stem`).
"""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import duckdb

COLUMNS = ("lead_id", "campaign_id", "channel", "why", "priority", "as_of")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_SAFE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")


def neutralise_cell(value: object) -> str:
    """The cell's text, with a leading ``'`` when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def safe_file_stem(campaign_id: str) -> str:
    """A file name (without extension) for a campaign id: the id itself when it is
    already lower-case letters, digits, ``_`` and ``-`` (at most 100, not starting with
    ``-`` or ``_``); otherwise those characters of it (others become ``_``) plus ``-`` and
    8 hex digits of its md5, so two ids never share a file, not even on a case-insensitive
    file system, and no id can reach outside the folder (``..``, ``/``, ``\\``)."""
    if _SAFE_ID.fullmatch(campaign_id):
        return campaign_id
    cleaned = re.sub(r"[^a-z0-9_-]+", "_", campaign_id.lower()).strip("_-")[:80] or "campaign"
    return f"{cleaned}-{hashlib.md5(campaign_id.encode('utf-8')).hexdigest()[:8]}"


def write_csv(path: Path, rows: list[tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([neutralise_cell(value) for value in row])


def write_exports(con: duckdb.DuckDBPyConnection, relation: str, folder: Path) -> dict[str, dict[str, object]]:
    """Write one CSV per campaign of ``relation`` (a campaign_audiences table) into
    ``folder``; return, per campaign id, its file names and row counts (for the manifest)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = con.execute(
        f"select {', '.join(COLUMNS)}, is_control from {relation} "
        "order by campaign_id, priority, lead_id"
    ).fetchall()
    per_campaign: dict[str, dict[bool, list[tuple]]] = {}
    for row in rows:
        per_campaign.setdefault(row[1], {False: [], True: []})[bool(row[-1])].append(
            (*row[:4], row[4], None if row[5] is None else row[5].strftime("%Y-%m-%d %H:%M:%S"))
        )
    exports: dict[str, dict[str, object]] = {}
    for campaign_id, groups in per_campaign.items():
        stem = safe_file_stem(campaign_id)
        write_csv(folder / f"{stem}.csv", groups[False])
        write_csv(folder / "control" / f"{stem}.csv", groups[True])
        exports[campaign_id] = {
            "file": f"audiences/{stem}.csv",
            "rows": len(groups[False]),
            "control_file": f"audiences/control/{stem}.csv",
            "control_rows": len(groups[True]),
        }
    return exports
