"""The landing zone: discover raw files and load them, untouched, into the warehouse.

The contract (README, "The landing-zone contract"): one sub-folder per entity, any number
of files per folder, Parquet / CSV (optionally .gz) / JSON lines or a JSON array chosen by
extension. Extra columns are ignored and missing optional columns become null. A folder's
``_format.yml`` states its dialect (encoding, delimiter, decimal comma, date format): see
:mod:`orchestration.landing_formats`, which also keeps every path and option out of the
SQL text (bound parameters).

Every landing row is copied as text into ``landing.<entity>`` with where it came from
(file, row number, load batch, load time) and a per-entity delivery sequence number. No
row is judged here: parsing, validation and quarantine happen in dbt's staging layer, so
that every row is accounted for there (staged or quarantined with a reason).

A file that cannot be read at all (corrupt, wrong format, a required column missing)
stops the load with a :class:`LandingFileError` naming the file; the whole load runs in
one transaction, so nothing of that run is kept.

Files are loaded once: a manifest (``landing._files``) remembers each file's path and
content hash, so a refresh only reads what is new. A file re-delivered with changed
content is loaded again (its rows then count as re-deliveries downstream).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from orchestration import landing_formats, progress
from orchestration.landing_formats import FormatOptions, FormatOptionsError, Limits

log = logging.getLogger(__name__)

LANDING_SCHEMA = "landing"
MANIFEST_TABLE = f"{LANDING_SCHEMA}._files"
#: One row per scoring published to the serving layer (written by orchestration.serving);
#: lead_scores compares with published scorings only.
PUBLICATIONS_TABLE = f"{LANDING_SCHEMA}._publications"
#: The largest ``_ingest_seq`` each entity had when landing rows were deleted (retention
#: pruning, erasure: orchestration.privacy), so that a delivery number is never reused:
#: staging's incremental models key their rows by it.
SEQ_FLOOR_TABLE = f"{LANDING_SCHEMA}._ingest_seq_floor"

#: The landing contract: every column the project reads, per entity, and which are required.
CONTRACT: dict[str, dict[str, bool]] = {
    "events": {
        "event_id": True,
        "occurred_at": True,
        "lead_id": False,
        "anonymous_id": False,
        "session_id": False,
        "event_type": True,
        "page_url": False,
        "page_type": False,
        "product_id": False,
        "product_category": False,
        "search_query": False,
    },
    "leads": {
        "lead_id": True,
        "email": False,
        "birth_date": False,
        "age": False,
        "gender": False,
        "country_code": False,
        "postal_code": False,
        "city": False,
        "latitude": False,
        "longitude": False,
        "created_at": False,
        "updated_at": False,
        "marketing_consent": False,
        "consent_updated_at": False,
        "acquisition_channel": False,
    },
    "orders": {
        "order_id": True,
        "lead_id": True,
        "ordered_at": True,
        "amount": True,
        "currency": False,
        "status": False,
        "item_count": False,
        "updated_at": False,
    },
    # Optional: a shop that runs no campaigns delivers no campaign_sends/ folder.
    "campaign_sends": {
        "lead_id": True,
        "campaign_id": True,
        "sent_at": True,
        "channel": False,
        "is_control": False,
    },
}

#: Columns the loader adds to every landing row.
METADATA_COLUMNS: dict[str, str] = {
    "_ingest_seq": "bigint",  # delivery order within the entity: later file => larger
    "_batch_id": "bigint",  # one per load run
    "_source_file": "varchar",  # path relative to the landing folder
    "_source_row": "bigint",  # 1-based row number within the file
    "_loaded_at": "timestamp",  # UTC time of the load
}

FORMATS: dict[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",
    ".tsv.gz": "csv",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
    ".jsonl.gz": "json",
    ".ndjson.gz": "json",
    ".json.gz": "json",
}


#: What the contract expects of each format, in messages.
FORMAT_EXPECTED: dict[str, str] = {
    "parquet": "a Parquet file",
    "csv": "CSV text with a header row (UTF-8 unless the folder's _format.yml sets `encoding`; "
           "delimiter detected unless it sets `delimiter`)",
    "json": "JSON lines (one JSON object per line) or a JSON array of objects, in UTF-8 unless "
            "the folder's _format.yml sets `encoding`",
}
FORMAT_NAMES: dict[str, str] = {"parquet": "Parquet", "csv": "CSV", "json": "JSON"}
SUPPORTED_TYPES = ("Parquet (.parquet, .pq), CSV (.csv, .tsv, optionally .gz) or JSON lines / "
                   "a JSON array (.jsonl, .ndjson, .json, optionally .gz)")
#: What to do about a file no option reads.
CONVERT = "convert the file and deliver it again"


class LandingFileError(RuntimeError):
    """A landing file that cannot be loaded; the message names the file and the cause."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"landing file {shown_path(path)}: {problem}")
        self.path = path
        self.problem = problem


def shown_path(path: Path | str) -> str:
    """A path as a message shows it: control characters (a newline, an ESC that would
    drive the terminal) escaped as in Python (``\\n``, ``\\x1b``), the rest as it is."""
    text = str(path)
    if not any(unicodedata.category(char) == "Cc" for char in text):
        return text
    return "".join(char.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(char) == "Cc" else char for char in text)


class LandingFolderMissing(FileNotFoundError):
    """The landing folder itself does not exist (a mistyped path, an unmounted share)."""

    def __init__(self, path: Path, setting: str = "LEADSCORE_LANDING_DIR"):
        super().__init__(
            f"landing folder {path} does not exist; set {setting} to the folder that holds "
            "the events/, leads/ and orders/ sub-folders (or create it)"
        )
        self.path = path


def unsupported_type_problem(path: Path) -> str:
    """Why a file of an unknown type cannot be loaded, and what to do."""
    return (
        f"unsupported file type {''.join(path.suffixes[-2:]) or '(no extension)'}; the landing "
        f"contract reads {SUPPORTED_TYPES}. Convert the file, or move it out of the landing "
        "folder (names starting with '.' or '_' are skipped)"
    )


def is_hidden(relative_parts: Iterable[str]) -> bool:
    """Files and folders whose name starts with '.' or '_' are not landing files."""
    return any(part.startswith((".", "_")) for part in relative_parts)


def require_folder(landing_dir: Path, setting: str = "LEADSCORE_LANDING_DIR") -> None:
    """Raise :class:`LandingFolderMissing` unless ``landing_dir`` is a folder."""
    if not landing_dir.is_dir():
        raise LandingFolderMissing(landing_dir, setting)


@dataclass(frozen=True)
class LandingFile:
    entity: str
    path: Path
    relative_path: str
    fmt: str
    size: int
    mtime_ns: int


@dataclass
class LoadResult:
    """What one load did."""

    batch_id: int | None
    loaded_at: datetime
    files: list[tuple[LandingFile, int]] = field(default_factory=list)
    #: Rows of this load deleted before the gate because they belong to a person erased
    #: on request (orchestration.privacy), per entity; counted, never quarantined.
    dropped_erased: dict[str, int] = field(default_factory=dict)

    def rows(self, entity: str) -> int:
        return sum(rows for f, rows in self.files if f.entity == entity)

    @property
    def total_rows(self) -> int:
        return sum(rows for _, rows in self.files)


#: Called once per entity and load, after the entity's new files were inserted and before
#: the load commits, with those files and their rows as a DuckDB relation (the contract
#: columns as text, ``_source_file``, ``_source_row``). Raising rolls the whole load back;
#: used by the quality gates.
BatchInspector = Callable[[str, list[LandingFile], duckdb.DuckDBPyRelation], None]

#: Called once per load with new rows, inside its transaction and before the gate, with
#: the connection and the batch id: deletes the batch's rows that must not be kept (those
#: of people erased on request, orchestration.privacy.drop_erased_rows) and returns how
#: many per entity.
BatchDropper = Callable[[duckdb.DuckDBPyConnection, int], dict[str, int]]


def file_format(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMATS[suffix]
    return None


def discover(landing_dir: Path, setting: str = "LEADSCORE_LANDING_DIR") -> list[LandingFile]:
    """All landing files, entity by entity, in delivery order (sorted by relative path).

    A missing or empty entity folder is allowed, a missing landing folder is not
    (:class:`LandingFolderMissing`, naming ``setting``). Hidden files (``.x``, ``_x``) are
    skipped; any other file with an unknown extension is an error, so nothing is silently
    ignored.
    """
    require_folder(landing_dir, setting)
    found: list[LandingFile] = []
    for entity in CONTRACT:
        folder = landing_dir / entity
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if is_hidden(path.relative_to(folder).parts):
                continue
            fmt = file_format(path)
            if fmt is None:
                raise LandingFileError(path, unsupported_type_problem(path))
            stat = path.stat()
            found.append(
                LandingFile(
                    entity=entity,
                    path=path,
                    relative_path=path.relative_to(landing_dir).as_posix(),
                    fmt=fmt,
                    size=stat.st_size,
                    mtime_ns=stat.st_mtime_ns,
                )
            )
    return found


@dataclass(frozen=True)
class LoadedFiles:
    """What the manifest (``landing._files``) says was loaded: each version of a file by
    path + size + modification time and by path + content hash."""

    by_stat: frozenset[tuple[str, int, int]] = frozenset()
    by_hash: frozenset[tuple[str, str]] = frozenset()
    paths: frozenset[str] = frozenset()

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection) -> "LoadedFiles":
        """The manifest of the warehouse ``con`` is connected to (empty when it has none)."""
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [LANDING_SCHEMA, MANIFEST_TABLE.split(".", 1)[1]],
        ).fetchone()[0]
        if not exists:
            return cls()
        rows = con.execute(
            f"select relative_path, size, mtime_ns, sha256 from {MANIFEST_TABLE}"
        ).fetchall()
        return cls(frozenset((r[0], r[1], r[2]) for r in rows),
                   frozenset((r[0], r[3]) for r in rows),
                   frozenset(r[0] for r in rows))

    def same_stat(self, file: LandingFile) -> bool:
        """Loaded with this path, size and modification time: no need to read it."""
        return (file.relative_path, file.size, file.mtime_ns) in self.by_stat

    def same_content(self, file: LandingFile, sha256: str) -> bool:
        """Loaded with this path and content (re-delivered or touched, not changed)."""
        return (file.relative_path, sha256) in self.by_hash

    def knows_path(self, file: LandingFile) -> bool:
        return file.relative_path in self.paths


def new_files(
    files: Iterable[LandingFile],
    loaded: LoadedFiles,
    sha256: Callable[[LandingFile], str] | None = None,
) -> list[LandingFile]:
    """The files the next load would load (the loader's own rule): not in the manifest
    with the same path, size and modification time, nor with the same path and content.
    Only a file whose path is known with another size or time is hashed (``sha256``)."""
    digest = sha256 or (lambda file: _sha256(file.path))
    pending = []
    for file in files:
        if loaded.same_stat(file):
            continue
        if loaded.knows_path(file) and loaded.same_content(file, digest(file)):
            continue
        pending.append(file)
    return pending


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ensure_landing_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the landing schema, one table per entity and the manifest, if missing."""
    con.execute(f"create schema if not exists {LANDING_SCHEMA}")
    for entity, columns in CONTRACT.items():
        cols = [f"{_quote(c)} varchar" for c in columns]
        cols += [f"{c} {t}" for c, t in METADATA_COLUMNS.items()]
        con.execute(f"create table if not exists {LANDING_SCHEMA}.{entity} ({', '.join(cols)})")
        # a warehouse made before an optional contract column existed gets it (null)
        for column in columns:
            con.execute(f"alter table {LANDING_SCHEMA}.{entity} add column if not exists {_quote(column)} varchar")
    con.execute(
        f"""
        create table if not exists {MANIFEST_TABLE} (
            entity varchar, relative_path varchar, size bigint, mtime_ns bigint,
            sha256 varchar, batch_id bigint, row_count bigint, loaded_at timestamp
        )
        """
    )
    con.execute(
        f"create table if not exists {PUBLICATIONS_TABLE} (as_of timestamp, published_at timestamp, run_id varchar)"
    )
    # what the refresh's predictive step writes; empty until it runs (dbt reads it)
    from orchestration.predictive.refresh_step import ensure_table

    ensure_table(con)


def entity_folder(file: LandingFile) -> Path:
    """The entity's folder (where its ``_format.yml`` lives), also for files in sub-folders."""
    return file.path.parents[len(Path(file.relative_path).parts) - 2]


def file_options(file: LandingFile) -> FormatOptions:
    """The dialect options of the file's entity folder; a bad ``_format.yml`` is a
    :class:`LandingFileError` naming it."""
    folder = entity_folder(file)
    for sub_folder in file.path.parents:
        if sub_folder == folder:
            break
        if (sub_folder / landing_formats.FORMAT_FILE).is_file():  # would silently not apply
            raise LandingFileError(sub_folder / landing_formats.FORMAT_FILE, (
                f"the options of {file.entity}/ are read from {file.entity}/"
                f"{landing_formats.FORMAT_FILE} only, for every file below it: move this file "
                "there (one dialect per entity folder)"))
    try:
        return landing_formats.read_options(folder, file.entity)
    except FormatOptionsError as exc:
        raise LandingFileError(folder / landing_formats.FORMAT_FILE, exc.problem) from exc


def _readable(file: LandingFile, options: FormatOptions) -> Path:
    try:
        return landing_formats.readable_path(file.path, file.fmt, options)
    except landing_formats.TranscodeError as exc:
        raise LandingFileError(file.path, (
            f"line {exc.line} cannot be decoded as {options.encoding}: "
            + landing_formats.encoding_hint(options, file.entity, exc.byte))) from exc
    except (OSError, EOFError) as exc:
        raise LandingFileError(file.path, f"cannot be read ({exc})") from exc


def _reader(
    file: LandingFile,
    options: FormatOptions,
    limits: Limits,
    columns: Iterable[str] | None = None,
) -> tuple[str, list]:
    """The DuckDB table function reading the file, and its parameters: the path (glob
    characters escaped) and every option are bound, never pasted into the SQL."""
    path = landing_formats.glob_escaped(_readable(file, options))
    if file.fmt == "parquet":
        return "read_parquet(?)", [path]
    if file.fmt == "csv":
        sql = "read_csv(?, header = true, all_varchar = true, max_line_size = ?"
        params: list = [path, limits.csv_max_line_size]
        delimiter = options.delimiter or ("\t" if ".tsv" in file.path.name.lower() else None)
        if delimiter is not None:
            sql += ", delim = ?"
            params.append(delimiter)
        if options.quote is not None:
            sql += ", quote = ?"
            params.append(options.quote)
        return sql + ")", params
    layout = "array" if _starts_with_json_array(file.path) else "newline_delimited"
    sql = f"read_json(?, format = '{layout}', maximum_object_size = ?"
    params = [path, limits.json_max_object_size]
    if columns is None:
        return sql + ")", params
    spec = ", ".join(f"{_literal(c)}: 'VARCHAR'" for c in columns)
    return sql + f", columns = {{{spec}}})", params


def file_select_sql(
    con: duckdb.DuckDBPyConnection, file: LandingFile, limits: Limits | None = None
) -> tuple[str, list]:
    """SQL selecting the file's rows as the entity's contract columns (text, normalised by
    the folder's dialect options), in file order, plus ``_source_row``, with its
    parameters. Raises :class:`LandingFileError` when the file cannot be read or lacks a
    required column."""
    limits = limits or Limits()
    contract = CONTRACT[file.entity]
    options = file_options(file)
    reader, reader_params = _reader(file, options, limits)
    try:
        described = con.execute(f"describe select * from {reader}", reader_params).fetchall()
    except duckdb.Error as exc:
        raise unreadable(file, exc) from exc
    present_lower = {row[0].lower(): row[0] for row in described}
    missing = [c for c, required in contract.items() if required and c not in present_lower]
    required = [c for c, needed in contract.items() if needed]
    if missing and file.fmt == "csv" and (
            hint := landing_formats.delimiter_hint(file.path, options, file.entity, required)):
        raise LandingFileError(file.path, f"required column(s) {', '.join(missing)} missing; {hint}")
    if missing and file.fmt == "json" and list(present_lower) == ["json"]:
        # DuckDB names the one column of JSON values that are not objects "json"
        raise LandingFileError(file.path, (
            "holds JSON values that are not objects (numbers, strings or lists where each "
            f"row should be {{\"column\": value, ...}}); the landing contract expects "
            f"{FORMAT_EXPECTED['json']}"))
    if missing and file.fmt == "csv" and (ragged := _first_ragged_csv_line(file.path)):
        # DuckDB's sniffer gives up on the header of a file whose lines differ in fields
        raise LandingFileError(file.path, _ragged_problem(ragged))
    if missing:
        raise LandingFileError(
            file.path,
            f"required column(s) {', '.join(missing)} missing; the file has: "
            f"{', '.join(sorted(present_lower.values())) or 'no columns'}. The landing contract "
            f"of {file.entity}/ requires {', '.join(required)} (names match in any case): "
            "rename or add the columns",
        )
    source_cols = [present_lower[c] for c in contract if c in present_lower]
    select, params = [], []
    for c in contract:
        if c not in present_lower:
            select.append(f"cast(null as varchar) as {_quote(c)}")
            continue
        expression, expression_params = landing_formats.normalised(
            f"cast({_quote(present_lower[c])} as varchar)", c, options)
        select.append(f"{expression} as {_quote(c)}")
        params += expression_params
    if file.fmt == "parquet":
        # Parquet knows each row's position: numbering stays parallel (row_number() over ()
        # would read the file on one thread)
        reader = "read_parquet(?, file_row_number = true)"
        row_number = "file_row_number + 1"
    else:
        reader, reader_params = _reader(file, options, limits,
                                        source_cols if file.fmt == "json" else None)
        row_number = "row_number() over ()"
    return (
        f"select {', '.join(select)}, ? as _source_file, "
        f"{row_number} as _source_row from {reader}",
        [*params, file.relative_path, *reader_params],
    )


def file_relation(con: duckdb.DuckDBPyConnection, file: LandingFile) -> duckdb.DuckDBPyRelation:
    """The file's rows as a DuckDB relation (see :func:`file_select_sql`)."""
    sql, params = file_select_sql(con, file)
    try:
        return con.sql(sql, params=params)
    except duckdb.Error as exc:
        raise unreadable(file, exc) from exc


def load(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    *,
    full_refresh: bool = False,
    inspect: BatchInspector | None = None,
    now: datetime | None = None,
    limits: Limits | None = None,
    drop: BatchDropper | None = None,
) -> LoadResult:
    """Load every new landing file into ``landing.<entity>`` in one transaction.

    ``full_refresh`` forgets what was loaded before and reloads every file.
    ``limits`` bound what one value may hold (a file with a larger one is refused).
    ``inspect`` sees each entity's new rows, all files of the load together, before the
    load commits (quality gates); raising stops the load and nothing of it is kept.
    ``drop`` deletes rows of the new batch before the gate sees them (erased people).
    """
    loaded_at = (now or datetime.now(timezone.utc)).replace(tzinfo=None, microsecond=0)
    files = discover(landing_dir)
    con.execute("set TimeZone = 'UTC'")
    con.execute("begin transaction")
    try:
        ensure_landing_tables(con)
        # When each file content was first loaded. A full refresh reloads a file with the
        # time it was first loaded: _loaded_at is when the data was known (it dates profile
        # versions without timestamps and bounds future timestamps), and re-reading a file
        # does not make its data newer.
        first_loaded = {
            (r[0], r[1]): r[2]
            for r in con.execute(
                f"select relative_path, sha256, min(loaded_at) from {MANIFEST_TABLE} group by all"
            ).fetchall()
        }
        if full_refresh:
            for entity in CONTRACT:
                con.execute(f"delete from {LANDING_SCHEMA}.{entity}")
            con.execute(f"delete from {MANIFEST_TABLE}")
        loaded = LoadedFiles.read(con)
        batch_id = con.execute(
            f"select coalesce(max(batch_id), 0) + 1 from {MANIFEST_TABLE}"
        ).fetchone()[0]
        result = LoadResult(batch_id=batch_id, loaded_at=loaded_at)
        for file in files:
            if loaded.same_stat(file):
                continue
            sha = _sha256(file.path)
            if loaded.same_content(file, sha):
                # Same content, new timestamp: remember the new stat, load nothing.
                con.execute(
                    f"update {MANIFEST_TABLE} set size = ?, mtime_ns = ? "
                    "where relative_path = ? and sha256 = ?",
                    [file.size, file.mtime_ns, file.relative_path, sha],
                )
                continue
            file_loaded_at = first_loaded.get((file.relative_path, sha), loaded_at)
            progress.activity(f"loading {shown_path(file.relative_path)} "
                              f"({len(result.files) + 1} new file(s))")
            rows = _load_file(con, file, batch_id, file_loaded_at, limits or Limits()) \
                if file.size else 0
            con.execute(
                f"insert into {MANIFEST_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?)",
                [file.entity, file.relative_path, file.size, file.mtime_ns, sha, batch_id, rows,
                 file_loaded_at],
            )
            result.files.append((file, rows))
            log.info("loaded %s rows from %s", rows, file.relative_path)
        if drop is not None and result.files:
            result.dropped_erased = drop(con, batch_id)
        if inspect is not None:
            for entity in CONTRACT:
                new_files = [f for f, _ in result.files if f.entity == entity]
                if new_files:
                    progress.activity(f"landing gate (GX) on {len(new_files)} new {entity} file(s)")
                    inspect(entity, new_files, batch_relation(con, entity, batch_id))
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        landing_formats.release()
    if not result.files:
        result.batch_id = None
    return result


def batch_relation(
    con: duckdb.DuckDBPyConnection, entity: str, batch_id: int
) -> duckdb.DuckDBPyRelation:
    """The rows one load added to ``landing.<entity>``: contract columns, file and row."""
    columns = ", ".join(_quote(c) for c in CONTRACT[entity])
    return con.sql(
        f"select {columns}, _source_file, _source_row from {LANDING_SCHEMA}.{entity} "
        f"where _batch_id = {int(batch_id)}"
    )


def _load_file(
    con: duckdb.DuckDBPyConnection,
    file: LandingFile,
    batch_id: int,
    loaded_at: datetime,
    limits: Limits,
) -> int:
    select_sql, params = file_select_sql(con, file, limits)
    table = f"{LANDING_SCHEMA}.{file.entity}"
    next_seq = next_ingest_seq(con, file.entity)
    columns = ", ".join(_quote(c) for c in CONTRACT[file.entity])
    try:
        inserted = con.execute(
            f"""
            insert into {table}
            select {columns},
                   {next_seq} + _source_row as _ingest_seq,
                   {batch_id} as _batch_id,
                   _source_file,
                   _source_row,
                   cast({_literal(loaded_at.isoformat(sep=' '))} as timestamp) as _loaded_at
            from ({select_sql}) as landing_file
            """,
            params,
        ).fetchone()[0]
    except duckdb.Error as exc:
        raise unreadable(file, exc) from exc
    _check_limits(con, file, batch_id, limits)
    return int(inserted)


def _check_limits(
    con: duckdb.DuckDBPyConnection, file: LandingFile, batch_id: int, limits: Limits
) -> None:
    """Refuse a file holding a value larger than ``limits.max_cell_bytes`` or JSON nested
    deeper than ``limits.max_json_depth``: naming file, row, column and the setting. One
    SQL pass over the file's new rows finds the values that could break a limit (long
    ones, and ones starting with a bracket long enough to nest that deep)."""
    columns = list(CONTRACT[file.entity])
    suspect = " or ".join(
        f"strlen({_quote(c)}) > $cell or (left(ltrim({_quote(c)}), 1) in ('[', '{{') "
        f"and strlen({_quote(c)}) > 2 * $depth)" for c in columns)
    found = con.execute(
        f"select _source_row, {', '.join(_quote(c) for c in columns)} "
        f"from {LANDING_SCHEMA}.{file.entity} "
        f"where _batch_id = $batch and _source_file = $file and ({suspect}) "
        "order by _source_row limit 100",
        {"batch": batch_id, "file": file.relative_path, "cell": limits.max_cell_bytes,
         "depth": limits.max_json_depth},
    ).fetchall()
    for row, *values in found:
        for column, value in zip(columns, values):
            if value is None:
                continue
            size = len(value.encode("utf-8", errors="surrogatepass"))
            if size > limits.max_cell_bytes:
                raise LandingFileError(file.path, (
                    f"row {row}, column {column} holds {size:,} bytes, more than the "
                    f"{limits.max_cell_bytes:,} a value may hold "
                    "(LEADSCORE_LANDING_MAX_CELL_BYTES); the file is not loaded: shorten the "
                    "value, or raise the setting if such values are expected"))
            if value.lstrip()[:1] in ("[", "{"):
                depth = landing_formats.json_depth(value)
                if depth > limits.max_json_depth:
                    raise LandingFileError(file.path, (
                        f"row {row}, column {column} holds JSON nested {depth} levels deep, "
                        f"more than {limits.max_json_depth} (LEADSCORE_LANDING_MAX_JSON_DEPTH); "
                        "the file is not loaded: flatten the value, or raise the setting"))
def next_ingest_seq(con: duckdb.DuckDBPyConnection, entity: str) -> int:
    """The largest delivery number the entity ever had (its rows', or the floor kept when
    rows were deleted, :data:`SEQ_FLOOR_TABLE`); new rows number on from it."""
    current = con.execute(
        f"select coalesce(max(_ingest_seq), 0) from {LANDING_SCHEMA}.{entity}").fetchone()[0]
    has_floor = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [LANDING_SCHEMA, SEQ_FLOOR_TABLE.split(".", 1)[1]]).fetchone()[0]
    if not has_floor:
        return int(current)
    floor = con.execute(f"select coalesce(max(max_ingest_seq), 0) from {SEQ_FLOOR_TABLE} "
                        "where entity = ?", [entity]).fetchone()[0]
    return int(max(current, floor))


# ------------------------------------------------------------- why a file is unreadable


def unreadable(file: LandingFile, exc: BaseException) -> LandingFileError:
    """The error of a file DuckDB could not read, in the contract's terms: what the file
    holds that the contract does not allow (found by looking at the file itself, which
    costs nothing on the normal path), what the contract expects and what to do. DuckDB's
    own text is logged (``leadscore -v``) and chained to the error, not shown first."""
    log.info("DuckDB could not read %s: %s", file.path, exc)
    return LandingFileError(file.path, _diagnose(file, str(exc)))


def _open_bytes(path: Path):  # noqa: ANN202  (a binary file object)
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def _starts_with_json_array(path: Path) -> bool:
    """True when the first character that is not white space (or a BOM) is ``[``."""
    try:
        with _open_bytes(path) as handle:
            head = handle.read(4096)
    except (OSError, EOFError):
        return False
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")


def _first_ragged_csv_line(path: Path) -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first CSV line whose number of fields differs
    from the header's; the delimiter is the one of , ; tab | that splits the header most."""
    import csv
    import io

    try:
        with _open_bytes(path) as raw:
            handle = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
            header = handle.readline()
            delimiter = "\t" if ".tsv" in path.name.lower() else max(
                ",;\t|", key=lambda d: len(next(csv.reader([header], delimiter=d))))
            width = len(next(csv.reader([header], delimiter=delimiter)))
            for number, fields in enumerate(csv.reader(handle, delimiter=delimiter), 2):
                if fields and len(fields) != width:
                    return number, len(fields), width
    except (OSError, EOFError, csv.Error, StopIteration):
        return None
    return None


def _ragged_problem(ragged: tuple[int, int, int]) -> str:
    line, fields, width = ragged
    return (
        f"line {line} has {fields} fields where the header has {width}; the landing contract "
        f"expects {FORMAT_EXPECTED['csv']}, every line with the header's fields. A value "
        "holding the delimiter (a decimal comma as in 12,50, or text with commas) must be "
        'quoted ("12,50"), or the file must use another delimiter'
    )


def _first_non_utf8(path: Path) -> tuple[int, int, int, str] | None:
    """(line, character, byte, the text around it) of the first byte that is not UTF-8.
    Lines are split at the newline byte, which no multi-byte UTF-8 sequence contains."""
    try:
        with _open_bytes(path) as handle:
            for number, line in enumerate(handle, 1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as error:
                    before = line[: error.start].decode("utf-8", errors="replace")
                    around = line[max(0, error.start - 25): error.start + 25]
                    text = around.decode("utf-8", errors="backslashreplace").strip()
                    return number, len(before) + 1, line[error.start], text
    except (OSError, EOFError):
        return None
    return None


def _first_long_line(path: Path, limit: int) -> int | None:
    """The number of the first line (split at newline bytes) longer than ``limit`` bytes,
    read in blocks: a huge line is never held whole."""
    try:
        with _open_bytes(path) as handle:
            number, length = 1, 0
            for block in iter(lambda: handle.read(1 << 20), b""):
                start = 0
                while (end := block.find(b"\n", start)) != -1:
                    if length + end - start > limit:
                        return number
                    number, length, start = number + 1, 0, end + 1
                length += len(block) - start
                if length > limit:
                    return number
    except (OSError, EOFError):
        return None
    return None


def _first_bad_json_line(path: Path) -> tuple[int, str] | None:
    """(line, why) of the first non-blank line that is not a JSON object."""
    try:
        with _open_bytes(path) as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except RecursionError:
                    return number, "JSON nested too deeply to read"
                except ValueError as error:
                    return number, f"not valid JSON: {getattr(error, 'msg', error)}"
                if not isinstance(value, dict):
                    return number, f"a JSON {type(value).__name__}, not an object"
    except (OSError, EOFError):
        return None
    return None


def _diagnose(file: LandingFile, library_text: str) -> str:
    expected = FORMAT_EXPECTED[file.fmt]
    try:
        options = landing_formats.read_options(entity_folder(file), file.entity)
    except FormatOptionsError:
        options = FormatOptions()
    if file.fmt != "parquet" and options.is_utf8:
        found = _first_non_utf8(file.path)
        if found is not None:
            line, column, byte, text = found
            return (
                f"is not UTF-8: line {line}, character {column} is the byte 0x{byte:02x} in "
                f"\"{text}\"; {landing_formats.encoding_hint(options, file.entity, byte)} "
                f"(or {CONVERT}, e.g. `iconv -f WINDOWS-1252 -t UTF-8 {file.path.name} > "
                f"utf8_{file.path.name}`)"
            )
    too_long = re.search(r"Maximum line size of (\d+) bytes exceeded", library_text)
    if too_long:
        # DuckDB's own line number counts from where its reader started: count here
        line = _first_long_line(file.path, int(too_long[1]))
        return (f"line {line or '?'} is longer than {int(too_long[1]):,} bytes, the "
                "longest line read (2 MiB or 4 x LEADSCORE_LANDING_MAX_CELL_BYTES, the most a "
                "value may hold, whichever is larger); the file is not loaded: shorten the "
                "value, or raise the setting if such values are expected")
    if file.fmt == "json" and _starts_with_json_array(file.path):
        return (f"holds a JSON array that cannot be read as an array of objects "
                f"({_first_line(library_text, file.path)}); the landing contract expects "
                f"{expected}: check that the file is complete")
    if file.fmt == "json":
        bad = _first_bad_json_line(file.path)
        if bad is not None:
            return f"line {bad[0]} is {bad[1]}; the landing contract expects {expected}"
    if file.fmt == "csv" and (ragged := _first_ragged_csv_line(file.path)):
        return _ragged_problem(ragged)
    return f"cannot be read as {FORMAT_NAMES[file.fmt]} ({_first_line(library_text, file.path)}); " \
           f"the landing contract expects {expected}: check that the file is complete and " \
           "really in that format"


def _first_line(library_text: str, path: Path) -> str:
    """DuckDB's first line, without its error class and without the file's path."""
    line = (library_text.strip().splitlines() or ["unknown error"])[0]
    line = re.sub(r"^[A-Za-z ]*Error: ", "", line)
    for shown in (str(path), landing_formats.glob_escaped(path)):
        for quoted in (f"'{shown}'", f'"{shown}"', shown):
            line = line.replace(f" in file {quoted}", "").replace(f" {quoted}", "")
    return line.rstrip(". ")
