"""The serving layer: what BI tools read, never the warehouse file dbt writes.

``publish`` copies the validated marts into ``$LEADSCORE_SERVING_DIR``:

- ``lead_scores.parquet``: the lead score mart, for any tool that reads Parquet;
- ``serving.duckdb``: tables ``lead_scores``, ``lead_category_interest``,
  ``lead_score_history``;
- ``manifest.json``: as_of, row counts, when it was published (written last);
- ``audiences/<campaign>.csv`` (and ``audiences/control/<campaign>.csv``): the campaign
  audiences for e-mail tools and CRMs (orchestration/audiences.py), when the warehouse
  has ``marts.campaign_audiences``; also tables ``campaign_audiences`` and
  ``campaign_results`` in ``serving.duckdb``.

A refresh that found nothing never publishes it away: a ``lead_scores`` without leads
never replaces a published one that has leads, and one that lost more than
``LEADSCORE_MAX_LEAD_LOSS`` of the published version's leads is not published either
(:class:`PublishRefused`; BI keeps the previous version). ``as_of`` is never null: an
empty mart is published with the as_of of the run that built it.

Publishing is atomic per file: everything is written to hidden temporary files in the
same folder, flushed to disk, then renamed over the published names (``os.replace``).
A reader sees the previous version or the new one, never a half-written file. A reader
holding ``serving.duckdb`` open keeps reading the version it opened (on Linux and macOS
the old file lives on until it is closed) and never blocks a refresh, because the
refresh never opens the published file. A killed refresh leaves only temporary files,
which the next publish removes.

``audiences`` is a symbolic link to a hidden folder ``.audiences-<tag>`` that holds one
version of the exports: a publish writes the new version's folder completely, then
replaces the link (``os.replace``, atomic), then deletes the older versions. A reader
sees every CSV of one version, never a mix of two.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from orchestration.config import Settings

PARQUET_NAME = "lead_scores.parquet"
DUCKDB_NAME = "serving.duckdb"
MANIFEST_NAME = "manifest.json"
#: Published table -> warehouse relation.
TABLES: dict[str, str] = {
    "lead_scores": "marts.lead_scores",
    "lead_category_interest": "marts.lead_category_interest",
    "lead_score_history": "marts.lead_score_history",
}
#: Published when the warehouse has them (a warehouse built before campaigns has not).
OPTIONAL_TABLES: dict[str, str] = {
    "campaign_audiences": "marts.campaign_audiences",
    "campaign_results": "marts.campaign_results",
}
AUDIENCES_NAME = "audiences"
AUDIENCES_VERSION_PREFIX = ".audiences-"
TEMP_MARKER = ".publishing-"


class PublishRefused(RuntimeError):
    """The new marts would replace the published version with far fewer leads; the
    message says what was found, what is published and what to check."""


@dataclass(frozen=True)
class Publication:
    """What one publish wrote (also the content of manifest.json)."""

    as_of: str
    published_at: str
    row_counts: dict[str, int]
    files: dict[str, str]
    warehouse: str
    run_id: str | None = None
    #: campaign id -> its export files and row counts (orchestration/audiences.py)
    audiences: dict[str, dict[str, object]] = field(default_factory=dict)

    def describe(self, serving_dir: Path) -> str:
        counts = ", ".join(f"{table} {rows:,}" for table, rows in self.row_counts.items())
        return "\n".join([
            f"Serving layer (for BI tools), published {self.published_at}, as_of {self.as_of}:",
            f"  {serving_dir / self.files['parquet']}",
            f"  {serving_dir / self.files['duckdb']}  ({counts})",
            f"  {serving_dir / MANIFEST_NAME}",
            *([f"  {serving_dir / AUDIENCES_NAME}/  ({len(self.audiences)} campaign audiences, "
               f"{sum(int(a['rows']) for a in self.audiences.values()):,} leads to send)"]
              if self.audiences else []),
        ])


def manifest_path(serving_dir: Path) -> Path:
    return serving_dir / MANIFEST_NAME


def read_manifest(serving_dir: Path) -> dict[str, Any] | None:
    """The manifest of the published version, or None when nothing was published yet."""
    path = manifest_path(serving_dir)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(serving_dir: Path) -> list[Path]:
    """Delete temporary files left by a publish that was killed (its process is gone)."""
    removed = []
    for path in serving_dir.glob(f".*{TEMP_MARKER}*"):
        try:
            pid = int(path.name.split(TEMP_MARKER, 1)[1].split("-", 1)[0])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _temp_path(serving_dir: Path, name: str, tag: str) -> Path:
    return serving_dir / f".{name}{TEMP_MARKER}{os.getpid()}-{tag}"


def check_lead_count(settings: Settings, leads: int, previous: dict[str, Any] | None) -> None:
    """Raise :class:`PublishRefused` when ``leads`` would replace the published version
    (``previous``, its manifest) with none or with too few of its leads."""
    published = int(((previous or {}).get("row_counts") or {}).get("lead_scores") or 0)
    if published == 0:
        return
    version = (f"the {published:,} leads of the version published {previous.get('published_at')} "
               f"(as_of {previous.get('as_of')})")
    if leads == 0:
        raise PublishRefused(
            f"not published: marts.lead_scores has no leads, so it would replace {version}, "
            "which BI keeps reading; check that LEADSCORE_LANDING_DIR "
            f"({settings.landing_dir}) is the shop's landing folder and holds its files "
            f"(to publish an empty mart on purpose, delete {manifest_path(settings.serving_dir)})"
        )
    lost = 1 - leads / published
    if lost > settings.max_lead_loss:
        raise PublishRefused(
            f"not published: marts.lead_scores has {leads:,} leads, {lost:.0%} fewer than "
            f"{version}, more than LEADSCORE_MAX_LEAD_LOSS ({settings.max_lead_loss:g}) allows, "
            "so BI keeps reading that version; check that LEADSCORE_LANDING_DIR "
            f"({settings.landing_dir}) holds every file of the shop, or raise "
            "LEADSCORE_MAX_LEAD_LOSS if the loss is real"
        )


def publish(settings: Settings, run_id: str | None = None, as_of: str | None = None,
            *, record: bool = True) -> Publication:
    """Copy the marts from the warehouse (opened read-only) to the serving folder.

    ``record=False`` (a re-publication of the same scoring, e.g. after an erasure,
    orchestration.privacy): the warehouse's list of published scorings is left as it is.

    ``as_of``: the run's as_of, published when the mart has no rows to read it from.
    Raises :class:`PublishRefused` (and publishes nothing) when the new lead_scores has
    lost its leads (:func:`check_lead_count`).
    """
    serving_dir = settings.serving_dir
    serving_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(serving_dir)
    previous = read_manifest(serving_dir)
    tag = uuid.uuid4().hex[:8]
    tmp_parquet = _temp_path(serving_dir, PARQUET_NAME, tag)
    tmp_duckdb = _temp_path(serving_dir, DUCKDB_NAME, tag)
    tmp_manifest = _temp_path(serving_dir, MANIFEST_NAME, tag)
    tmp_audiences = _temp_path(serving_dir, AUDIENCES_NAME, tag)
    tmp_link = _temp_path(serving_dir, AUDIENCES_NAME + "-link", tag)
    temps = [tmp_parquet, tmp_duckdb, tmp_duckdb.with_name(tmp_duckdb.name + ".wal"), tmp_manifest, tmp_link]
    try:
        row_counts, mart_as_of = _write_copies(settings, tmp_duckdb, tmp_parquet)
        audiences = _write_audiences(tmp_duckdb, tmp_audiences) if "campaign_audiences" in row_counts else None
        check_lead_count(settings, row_counts["lead_scores"], previous)
        if (mart_as_of or as_of) is None:
            raise ValueError(
                "not published: marts.lead_scores is empty and the run's as_of was not given, "
                "so nothing would say when the scores are from"
            )
        publication = Publication(
            as_of=mart_as_of or as_of,
            published_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            row_counts=row_counts,
            files={"parquet": PARQUET_NAME, "duckdb": DUCKDB_NAME},
            warehouse=str(settings.duckdb_path),
            run_id=run_id,
            audiences=audiences or {},
        )
        tmp_manifest.write_text(json.dumps(asdict(publication), indent=2) + "\n", encoding="utf-8")
        for path in (tmp_parquet, tmp_duckdb, tmp_manifest):
            _fsync(path)
        # The manifest goes last: when it names a new version, both data files are in place.
        os.replace(tmp_parquet, serving_dir / PARQUET_NAME)
        os.replace(tmp_duckdb, serving_dir / DUCKDB_NAME)
        if audiences is not None:
            _swap_audiences(serving_dir, tmp_audiences, tmp_link, tag)
        os.replace(tmp_manifest, manifest_path(serving_dir))
        _fsync(serving_dir)
    finally:
        for path in temps:
            path.unlink(missing_ok=True)
        shutil.rmtree(tmp_audiences, ignore_errors=True)
    if record:
        record_publication(settings, run_id)
    return publication


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):
        _fsync(path)
    _fsync(folder)


def _swap_audiences(serving_dir: Path, written: Path, tmp_link: Path, tag: str) -> None:
    """Make ``audiences`` point at the folder just written (one atomic rename of a link),
    then delete the versions no reader can reach any more."""
    _fsync_tree(written)
    version = serving_dir / f"{AUDIENCES_VERSION_PREFIX}{tag}"
    os.rename(written, version)
    link = serving_dir / AUDIENCES_NAME
    if link.is_dir() and not link.is_symlink():
        # a real folder of that name (made by hand): moved aside once, kept as a version
        os.rename(link, serving_dir / f"{AUDIENCES_VERSION_PREFIX}moved-{tag}")
    os.symlink(version.name, tmp_link, target_is_directory=True)
    os.replace(tmp_link, link)
    for old in serving_dir.glob(f"{AUDIENCES_VERSION_PREFIX}*"):
        if old.name != version.name and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def record_publication(settings: Settings, run_id: str | None = None) -> None:
    """Note in the warehouse that the scoring now in marts.lead_scores was published:
    the next scoring's score_change compares with published scorings only."""
    from orchestration.landing import PUBLICATIONS_TABLE, ensure_landing_tables

    with contextlib.closing(duckdb.connect(str(settings.duckdb_path))) as con:
        ensure_landing_tables(con)
        con.execute(
            f"insert into {PUBLICATIONS_TABLE} "
            "select max(as_of), cast(now() at time zone 'UTC' as timestamp), ? from marts.lead_scores "
            "having max(as_of) is not null",
            [run_id],
        )


def _write_audiences(serving_duckdb: Path, folder: Path) -> dict[str, dict[str, object]]:
    """Write the audience exports into ``folder`` from the serving copy just written."""
    from orchestration import audiences as audience_exports

    with contextlib.closing(duckdb.connect(str(serving_duckdb), read_only=True)) as con:
        return audience_exports.write_exports(con, "main.campaign_audiences", folder)


def _write_copies(
    settings: Settings, tmp_duckdb: Path, tmp_parquet: Path
) -> tuple[dict[str, int], str | None]:
    """Write the serving DuckDB file and the Parquet file from the warehouse (the optional
    campaign marts too, when the warehouse has them)."""

    settings.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "memory_limit": settings.duckdb_memory_limit,
        "threads": settings.duckdb_threads,
        "temp_directory": str(settings.duckdb_temp_dir),
    }
    with contextlib.closing(duckdb.connect(":memory:", config=config)) as con:
        con.execute("set TimeZone = 'UTC'")
        # ATTACH takes no bound parameters (DuckDB's parser): the paths are string literals
        # with every quote doubled, DuckDB's complete escaping (no backslash escapes); a
        # test publishes into folders named with quotes, semicolons and spaces
        con.execute(f"attach {_sql_literal(str(settings.duckdb_path))} as warehouse (read_only)")
        con.execute(f"attach {_sql_literal(str(tmp_duckdb))} as serving")
        row_counts: dict[str, int] = {}
        for table, source in TABLES.items():
            con.execute(f"create table serving.main.{table} as select * from warehouse.{source}")
            row_counts[table] = int(
                con.execute(f"select count(*) from serving.main.{table}").fetchone()[0]
            )
        for table, source in OPTIONAL_TABLES.items():
            schema, name = source.split(".")
            present = con.execute(
                "select count(*) from information_schema.tables "
                "where table_catalog = 'warehouse' and table_schema = ? and table_name = ?",
                [schema, name],
            ).fetchone()[0]
            if present:
                con.execute(f"create table serving.main.{table} as select * from warehouse.{source}")
                row_counts[table] = int(
                    con.execute(f"select count(*) from serving.main.{table}").fetchone()[0]
                )
        as_of = con.execute(
            "select strftime(max(as_of), '%Y-%m-%d %H:%M:%S') from serving.main.lead_scores"
        ).fetchone()[0]
        # the path goes to the driver as a value, never into the SQL text
        con.table("serving.main.lead_scores").write_parquet(str(tmp_parquet), compression="zstd")
        con.execute("checkpoint serving")
        con.execute("detach serving")
        con.execute("detach warehouse")
    return row_counts, as_of
