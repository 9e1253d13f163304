"""Erasure on request (GDPR art. 17) that stays erased: ``leadscore erase``.

``erase`` removes a lead, the anonymous ids stitched to it and its e-mail hash from every
table of the warehouse, in one transaction, under the refresh lock (waiting for a running
refresh, up to a timeout), then re-publishes the serving layer from the warehouse
(atomically, as a refresh does) and scrubs the run summary there. The tables are found in
``information_schema``, not in a hand-written list, so a table added later is covered:

- a column named ``lead_id`` or ``anonymous_id`` (or ending in ``_lead_id`` /
  ``_anonymous_id``) holding an erased id deletes the row; a metadata column (its name
  starts with ``_``, e.g. ``_relinked_from_lead_id``: which lead an anonymous history moved
  away from) is set to null instead, since the row belongs to another lead;
- an ``email_hash`` column, or a clear ``email`` column (the landing copy), holding the
  erased lead's e-mail (its SHA-256, as staging computes it) deletes the row;
- a ``raw_row`` column (the quarantine's raw rows, JSON text) is parsed: its lead_id,
  anonymous_id and (masked or clear) email are matched as above.

The erasure is recorded in the ledger ``privacy.erasure_ledger``: one row per erased
value with only a salted SHA-256 (``sha256(salt:kind:value)``) and the time, never the id.
Every later load drops landing rows whose lead_id, anonymous_id or e-mail hashes to a
ledger entry (:func:`drop_erased_rows`, counted in the run summary), so re-delivering an
old file never brings the person back, and nothing of them is quarantined.

The salt is ``$LEADSCORE_ERASURE_SALT`` when set, else a secret generated once into
``erasure_salt`` beside the warehouse file (mode 0600). The ledger remembers a check value
of the salt, so a load with another salt stops with an error instead of letting erased
people back in.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb

from orchestration import pipeline, refresh_selection
from orchestration.config import Settings

log = logging.getLogger(__name__)

SALT_ENV = "LEADSCORE_ERASURE_SALT"
SALT_FILE_NAME = "erasure_salt"
#: A salt from the environment must be at least this long (a short one is guessable).
MIN_SALT_LENGTH = 16
LEDGER_SCHEMA = "privacy"
LEDGER_TABLE = f"{LEDGER_SCHEMA}.erasure_ledger"
#: Seconds ``leadscore erase`` waits for a running refresh by default.
DEFAULT_LOCK_TIMEOUT = 600.0

#: The direct identifiers of the landing contract per entity: clear only in the landing
#: copy (landing.leads); the quarantine's raw rows hold 'sha256:<hash>' instead
#: (macros/landing_columns.sql, landing_direct_identifiers: keep the two in step).
DIRECT_IDENTIFIERS: dict[str, list[str]] = {"events": [], "leads": ["email"], "orders": [], "campaign_sends": []}

#: Kinds of erased values, as recorded in the ledger.
LEAD, ANONYMOUS, EMAIL = "lead_id", "anonymous_id", "email_hash"
#: The landing columns matched at load, per entity: column -> (kind, SQL of the value
#: hashed). The e-mail is hashed as staging hashes it (macros/cross_db.sql, hash_email).
LANDING_MATCHES: dict[str, dict[str, tuple[str, str]]] = {
    "events": {"lead_id": (LEAD, "trim(lead_id)"),
               "anonymous_id": (ANONYMOUS, "trim(anonymous_id)")},
    "leads": {"lead_id": (LEAD, "trim(lead_id)"),
              "email": (EMAIL, "sha256(lower(trim(nullif(trim(email), ''))))")},
    "orders": {"lead_id": (LEAD, "trim(lead_id)")},
    "campaign_sends": {"lead_id": (LEAD, "trim(lead_id)")},
}


class ErasureError(ValueError):
    """An erasure that cannot run as asked (no ids, a salt that does not fit the ledger, a
    refresh that did not finish in time); the message says what to do."""


# ---------------------------------------------------------------------------- the salt


def salt_path(settings: Settings) -> Path:
    return settings.duckdb_path.parent / SALT_FILE_NAME


def salt(settings: Settings, create: bool = False) -> str | None:
    """The erasure salt: ``$LEADSCORE_ERASURE_SALT``, else the salt file beside the
    warehouse (generated with mode 0600 when ``create``; None when absent otherwise)."""
    from_env = os.environ.get(SALT_ENV)
    if from_env not in (None, ""):
        if len(from_env) < MIN_SALT_LENGTH:
            raise ErasureError(f"environment variable {SALT_ENV} must be at least "
                               f"{MIN_SALT_LENGTH} characters long (a random secret), got "
                               f"{len(from_env)}")
        return from_env
    path = salt_path(settings)
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ErasureError(f"the erasure salt {path} is readable by others (mode {mode:o}); "
                           f"run `chmod 600 {path}`")
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < MIN_SALT_LENGTH:
        raise ErasureError(f"the erasure salt {path} is shorter than {MIN_SALT_LENGTH} "
                           "characters; restore it from a backup (a new salt would not "
                           "match the ledger)")
    return value


def salted_hash(salt_value: str, kind: str, value: str) -> str:
    """What the ledger keeps of an erased value (same as :func:`_salted_sql`)."""
    return hashlib.sha256(f"{salt_value}:{kind}:{value}".encode("utf-8")).hexdigest()


def _salted_sql(kind: str, value_sql: str) -> str:
    """SQL of the salted hash of ``value_sql`` (the salt is the parameter ``$salt``)."""
    return f"sha256($salt || ':{kind}:' || {value_sql})"


def _salt_check(salt_value: str) -> str:
    return salted_hash(salt_value, "salt-check", "leadscore")


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {LEDGER_SCHEMA}")
    con.execute(
        f"create table if not exists {LEDGER_TABLE} ("
        "id_kind varchar, id_hash varchar, erased_at timestamp, salt_check varchar)"
    )


def _ledger_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [LEDGER_SCHEMA, LEDGER_TABLE.split(".", 1)[1]]).fetchone()[0])


def _check_salt(con: duckdb.DuckDBPyConnection, salt_value: str) -> None:
    checks = {r[0] for r in con.execute(f"select distinct salt_check from {LEDGER_TABLE}").fetchall()}
    if checks and checks != {_salt_check(salt_value)}:
        raise ErasureError(
            f"the erasure salt ({SALT_ENV} or the file {SALT_FILE_NAME} beside the warehouse) "
            f"is not the one the erasure ledger {LEDGER_TABLE} was written with: erased people "
            "would not be recognised. Restore the original salt")


# -------------------------------------------------------------------- at every load


def drop_erased_rows(settings: Settings, con: duckdb.DuckDBPyConnection,
                     batch_id: int) -> dict[str, int]:
    """Delete the rows of load ``batch_id`` that belong to an erased person (their
    lead_id, anonymous_id or e-mail hashes to a ledger entry); rows dropped per entity.
    Runs inside the load's transaction, before the landing gate sees the rows."""
    from orchestration.landing import LANDING_SCHEMA

    if not _ledger_exists(con):
        return {}
    if not con.execute(f"select count(*) from {LEDGER_TABLE}").fetchone()[0]:
        return {}
    salt_value = salt(settings)
    if salt_value is None:
        raise ErasureError(
            f"the erasure ledger {LEDGER_TABLE} has entries but the salt is missing "
            f"(${SALT_ENV} unset and no {salt_path(settings)}): restore it, or erased "
            "people would come back with their re-delivered files")
    _check_salt(con, salt_value)
    dropped: dict[str, int] = {}
    for entity, columns in LANDING_MATCHES.items():
        matches = " or ".join(
            f"{_salted_sql(kind, value)} in (select id_hash from {LEDGER_TABLE} "
            f"where id_kind = '{kind}')"
            for kind, value in columns.values()
        )
        count = con.execute(
            f"delete from {LANDING_SCHEMA}.{entity} where _batch_id = $batch and ({matches})",
            {"salt": salt_value, "batch": batch_id},
        ).fetchone()[0]
        if count:
            dropped[entity] = int(count)
    return dropped


# ------------------------------------------------------------------------ the erasure


@dataclass
class Receipt:
    """What one erasure did (printed by ``leadscore erase``); holds no id."""

    requested: int
    anonymous_ids: int
    email_hashes: int
    rows_removed: dict[str, int] = field(default_factory=dict)
    values_nulled: dict[str, int] = field(default_factory=dict)
    ledger_entries: int = 0
    republished: bool = False
    summary_scrubbed: bool = False
    compacted: bool = False
    erased_at: str = ""

    def format(self) -> str:
        lines = [
            f"Erased {self.requested} lead id(s) at {self.erased_at} UTC, with "
            f"{self.anonymous_ids} stitched anonymous id(s) and {self.email_hashes} e-mail "
            f"hash(es); {self.ledger_entries} new ledger entr(y/ies) (salted hashes only), "
            "so re-delivered rows of these people are dropped at load.",
            "Rows removed per table:",
        ]
        width = max([len(t) for t in self.rows_removed] + [5])
        for table, rows in sorted(self.rows_removed.items()):
            lines.append(f"  {table:<{width}}  {rows:>8,}")
        if not self.rows_removed:
            lines.append("  (none: these ids are in no table; they are in the ledger all the same)")
        lines.append(f"  {'total':<{width}}  {sum(self.rows_removed.values()):>8,}")
        for column, rows in sorted(self.values_nulled.items()):
            lines.append(f"Set to null (rows of other leads): {column} in {rows:,} row(s)")
        lines.append("Serving layer re-published from the warehouse." if self.republished
                     else "Serving layer: nothing was published yet, nothing to re-publish.")
        lines.append("Warehouse file rewritten: the deleted rows' bytes are gone from it."
                     if self.compacted else "Warehouse file not rewritten (--no-compact): the "
                     "deleted rows' bytes stay in it until the next `leadscore erase`.")
        if self.summary_scrubbed:
            lines.append("Run summary in the serving folder scrubbed of these ids.")
        return "\n".join(lines)


def read_ids(lead_ids: Iterable[str], from_file: Path | None) -> list[str]:
    """The ids to erase: the given ones plus the file's lines (blank lines and lines
    starting with # skipped), trimmed, without duplicates, in order."""
    ids = [i for i in lead_ids]
    if from_file is not None:
        text = Path(from_file).read_text(encoding="utf-8-sig")
        ids += [line for line in text.splitlines() if not line.strip().startswith("#")]
    seen: dict[str, None] = {}
    for value in ids:
        value = value.strip()
        if value:
            seen.setdefault(value, None)
    if not seen:
        raise ErasureError("no lead id to erase: pass --lead-id ID (repeatable) or "
                           "--from-file FILE (one id a line)")
    return list(seen)


@contextlib.contextmanager
def refresh_lock_within(settings: Settings, timeout: float) -> Iterator[None]:
    """The refresh lock (orchestration.pipeline.refresh_lock), exclusive, waiting up to
    ``timeout`` seconds for a running refresh to finish."""
    lock_path = pipeline._lock_path(settings)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        try:
            pipeline._flock_within(handle, fcntl.LOCK_EX, timeout)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise ErasureError(
                    f"a refresh of {settings.duckdb_path} is still running ({holder}) after "
                    f"waiting {timeout:g} s; nothing was erased. Run the erasure again when it "
                    "has finished, or wait longer with --lock-timeout SECONDS") from exc
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} (leadscore erase) since "
                     f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        held = lock_path.resolve()
        pipeline._HELD.add(held)
        try:
            yield
        finally:
            pipeline._HELD.discard(held)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _id_column_kind(column: str) -> str | None:
    name = column.lower()
    if name == "lead_id" or name.endswith("_lead_id"):
        return LEAD
    if name == "anonymous_id" or name.endswith("_anonymous_id"):
        return ANONYMOUS
    if name == "email_hash":
        return EMAIL
    return None


def _warehouse_tables(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Every base table of the warehouse (not views, not temporary): column -> type."""
    rows = con.execute(
        """
        select c.table_schema, c.table_name, c.column_name, c.data_type
        from information_schema.columns as c
        inner join information_schema.tables as t
            on c.table_catalog = t.table_catalog
            and c.table_schema = t.table_schema
            and c.table_name = t.table_name
        where t.table_type = 'BASE TABLE' and t.table_catalog = current_database()
        order by c.table_schema, c.table_name, c.ordinal_position
        """
    ).fetchall()
    tables: dict[str, dict[str, str]] = {}
    for schema, table, column, data_type in rows:
        tables.setdefault(f"{_quote(schema)}.{_quote(table)}", {})[column] = data_type
    return tables


def _matches(columns: dict[str, str]) -> tuple[list[str], list[str]]:
    """(conditions that delete a row, metadata columns to null) for one table."""
    sets = {LEAD: "erase_leads", ANONYMOUS: "erase_anonymous", EMAIL: "erase_emails"}
    conditions, nulled = [], []
    for column, data_type in columns.items():
        kind = _id_column_kind(column)
        text = f"trim(cast({_quote(column)} as varchar))"
        if kind is not None and column.startswith("_"):
            nulled.append(column)  # bookkeeping naming the lead in another lead's row
        elif kind is not None:
            conditions.append(f"{text} in (select id from {sets[kind]})")
        elif column.lower() == "email" and data_type.upper().startswith("VARCHAR"):
            conditions.append(f"sha256(lower({text})) in (select id from erase_emails)")
        elif column.lower().startswith("raw_row") and data_type.upper().startswith("VARCHAR"):
            raw = _quote(column)
            field_ = f"trim(json_extract_string({raw}, '$.{{}}'))"
            email = field_.format("email")
            email_hash = (f"case when {email} like 'sha256:%' then substr({email}, 8) "
                          f"else sha256(lower({email})) end")
            conditions.append(
                f"(json_valid({raw}) and ({field_.format('lead_id')} in (select id from erase_leads)"
                f" or {field_.format('anonymous_id')} in (select id from erase_anonymous)"
                f" or {email_hash} in (select id from erase_emails)))")
    return conditions, nulled


def _collect_related(con: duckdb.DuckDBPyConnection,
                     tables: dict[str, dict[str, str]]) -> None:
    """Fill erase_anonymous and erase_emails from every table that links them to an
    erased lead id (identity links, events, lead profiles)."""
    for table, columns in tables.items():
        lead_columns = [c for c in columns if _id_column_kind(c) == LEAD and not c.startswith("_")]
        if not lead_columns:
            continue
        where = " or ".join(f"trim(cast({_quote(c)} as varchar)) in (select id from erase_leads)"
                            for c in lead_columns)
        for column in columns:
            kind = _id_column_kind(column)
            if kind == ANONYMOUS and not column.startswith("_"):
                target, value = "erase_anonymous", f"trim(cast({_quote(column)} as varchar))"
            elif kind == EMAIL:
                target, value = "erase_emails", f"cast({_quote(column)} as varchar)"
            elif column.lower() == "email" and columns[column].upper().startswith("VARCHAR"):
                target, value = "erase_emails", f"sha256(lower(trim(nullif(trim({_quote(column)}), ''))))"
            else:
                continue
            con.execute(
                f"insert into {target} select distinct {value} from {table} "
                f"where ({where}) and nullif(trim(cast({_quote(column)} as varchar)), '') is not null "
                f"and {value} not in (select id from {target})")


def erase(settings: Settings, lead_ids: list[str], *,
          lock_timeout: float = DEFAULT_LOCK_TIMEOUT, compact: bool = True) -> Receipt:
    """Erase ``lead_ids`` everywhere (see the module's docstring); returns the receipt.

    ``compact``: rewrite the warehouse file afterwards (:func:`compact_warehouse`), since
    DuckDB only marks deleted rows and their bytes stay in the file until then."""
    from orchestration import serving

    if not lead_ids:
        raise ErasureError("no lead id to erase")
    if not settings.duckdb_path.exists():
        raise ErasureError(f"no warehouse at {settings.duckdb_path}: nothing to erase from "
                           "(set LEADSCORE_DUCKDB_PATH or pass --warehouse)")
    with refresh_lock_within(settings, lock_timeout):
        salt_value = salt(settings, create=True)
        assert salt_value is not None
        erased_at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        receipt = Receipt(requested=len(lead_ids), anonymous_ids=0, email_hashes=0,
                          erased_at=erased_at.isoformat(sep=" "))
        with contextlib.closing(pipeline.connect(settings)) as con:
            con.execute("begin transaction")
            try:
                ensure_ledger(con)
                _check_salt(con, salt_value)
                for name in ("erase_leads", "erase_anonymous", "erase_emails"):
                    con.execute(f"create or replace temp table {name} (id varchar)")
                con.executemany("insert into erase_leads values (?)", [[i] for i in lead_ids])
                tables = _warehouse_tables(con)
                _collect_related(con, tables)
                for entity in LANDING_MATCHES:
                    if f'"landing"."{entity}"' in tables:
                        keep_seq_floor(con, entity)
                tables = _warehouse_tables(con)  # with the floor table
                receipt.anonymous_ids = con.execute("select count(*) from erase_anonymous").fetchone()[0]
                receipt.email_hashes = con.execute("select count(*) from erase_emails").fetchone()[0]
                for table, columns in tables.items():
                    conditions, nulled = _matches(columns)
                    for column in nulled:
                        kind_set = ("erase_leads" if _id_column_kind(column) == LEAD
                                    else "erase_anonymous")
                        count = con.execute(
                            f"update {table} set {_quote(column)} = null where trim(cast("
                            f"{_quote(column)} as varchar)) in (select id from {kind_set})"
                        ).fetchone()[0]
                        if count:
                            receipt.values_nulled[f"{_plain(table)}.{column}"] = int(count)
                    if conditions:
                        count = con.execute(
                            f"delete from {table} where {' or '.join(conditions)}").fetchone()[0]
                        if count:
                            receipt.rows_removed[_plain(table)] = int(count)
                receipt.ledger_entries = _record(con, salt_value, erased_at)
                # tables changed outside a refresh: the next one runs every dbt data test
                refresh_selection.forget_verified_tests(con)
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
            con.execute("checkpoint")  # deleted rows leave the WAL for the database file
        if compact:
            compact_warehouse(settings)
            receipt.compacted = True
        ids = set(lead_ids)
        if serving.read_manifest(settings.serving_dir) is not None:
            serving.publish(settings, record=False)
            receipt.republished = True
        receipt.summary_scrubbed = scrub_summary(settings.serving_dir, ids)
    return receipt


def compact_warehouse(settings: Settings) -> None:
    """Rewrite the warehouse file (``COPY FROM DATABASE`` into a new file, then renamed
    over it): DuckDB marks deleted rows and reuses their blocks later, but their bytes stay
    in the file until it is rewritten. Needs the refresh lock and free disk for one copy."""
    path = settings.duckdb_path
    tmp = path.with_name(f".{path.name}.compact-{os.getpid()}")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    try:
        with contextlib.closing(pipeline.connect(settings)) as con:
            source = con.execute("select current_database()").fetchone()[0]
            con.execute(f"attach '{str(tmp).replace(chr(39), chr(39) * 2)}' as leadscore_compact")
            con.execute(f'copy from database "{source}" to leadscore_compact')
            con.execute("detach leadscore_compact")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)


def _plain(table: str) -> str:
    return table.replace('"', "")


def _record(con: duckdb.DuckDBPyConnection, salt_value: str, erased_at: datetime) -> int:
    """Add the salted hashes of the erased values to the ledger (once each)."""
    before = con.execute(f"select count(*) from {LEDGER_TABLE}").fetchone()[0]
    for kind, table in ((LEAD, "erase_leads"), (ANONYMOUS, "erase_anonymous"),
                        (EMAIL, "erase_emails")):
        con.execute(
            f"insert into {LEDGER_TABLE} "
            f"select distinct '{kind}', {_salted_sql(kind, 'id')}, $at, $check from {table} "
            f"where {_salted_sql(kind, 'id')} not in "
            f"(select id_hash from {LEDGER_TABLE} where id_kind = '{kind}')",
            {"salt": salt_value, "at": erased_at, "check": _salt_check(salt_value)},
        )
    return con.execute(f"select count(*) from {LEDGER_TABLE}").fetchone()[0] - before


def scrub_summary(serving_dir: Path, ids: set[str]) -> bool:
    """Remove every entry naming an erased id from the run summary in the serving folder
    (its top leads and score movers); written atomically. True when something changed."""
    from orchestration import run_summary

    summary = run_summary.read(serving_dir)
    if summary is None:
        return False
    pattern = re.compile("|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)))

    def names_id(value: Any) -> bool:
        return bool(pattern.search(json.dumps(value, default=str)))

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value if not names_id(v)]
        return value

    cleaned = scrub(summary)
    if cleaned == summary:
        return False
    run_summary.write(cleaned, serving_dir)
    return True


# ------------------------------------------------------------------ landing retention


def keep_seq_floor(con: duckdb.DuckDBPyConnection, entity: str) -> None:
    """Before landing rows are deleted: remember the entity's largest delivery number
    (orchestration.landing.SEQ_FLOOR_TABLE), so that it is never handed out again."""
    from orchestration.landing import SEQ_FLOOR_TABLE, next_ingest_seq

    con.execute(f"create table if not exists {SEQ_FLOOR_TABLE} (entity varchar, max_ingest_seq bigint)")
    highest = next_ingest_seq(con, entity)
    con.execute(f"delete from {SEQ_FLOOR_TABLE} where entity = ?", [entity])
    con.execute(f"insert into {SEQ_FLOOR_TABLE} values (?, ?)", [entity, highest])


def prune_landing(settings: Settings, con: duckdb.DuckDBPyConnection,
                  now: datetime | None = None) -> dict[str, int]:
    """Delete the landing copies loaded more than ``landing_retention_days`` ago whose
    rows every model has processed (LEADSCORE_LANDING_RETENTION_DAYS; None: keep all).

    A row is processed when staging's base model holds it (by ``_ingest_seq``) and, if
    it is quarantined, the quarantine holds its raw row. The next incremental refresh
    reads only newer batches, so pruning changes none of its results (tested); a full
    refresh (``leadscore run --full-refresh``) reloads every landing file. One limit: a
    row re-delivered after its earlier copy was pruned is judged without it (as a first
    delivery), so for events, whose first delivery wins, a conflicting re-delivery then
    wins instead. Rows pruned per entity."""
    from orchestration.landing import CONTRACT, LANDING_SCHEMA

    days = settings.landing_retention_days
    if days is None:
        return {}
    cutoff = (now or datetime.now(timezone.utc)).replace(tzinfo=None) - timedelta(days=days)
    existing = {f"{s}.{t}" for s, t in con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database()").fetchall()}
    if "quarantine.quarantined_rows" not in existing:
        return {}
    pruned: dict[str, int] = {}
    con.execute("begin transaction")
    try:
        for entity in CONTRACT:
            base = f"staging.base_landing__{entity}"
            if f"{LANDING_SCHEMA}.{entity}" not in existing or base not in existing:
                continue
            keep_seq_floor(con, entity)
            count = con.execute(
                f"""
                delete from {LANDING_SCHEMA}.{entity} as landing_rows
                where landing_rows._loaded_at < $cutoff
                    and exists (
                        select 1 from {base} as base
                        where base._ingest_seq = landing_rows._ingest_seq
                            and (base.quarantine_reason is null or exists (
                                select 1 from quarantine.quarantined_rows as quarantined
                                where quarantined.entity = '{entity}'
                                    and quarantined.ingest_seq = base._ingest_seq))
                    )
                """,
                {"cutoff": cutoff},
            ).fetchone()[0]
            if count:
                pruned[entity] = int(count)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    if pruned:
        log.info("pruned landing copies older than %s days: %s", days, pruned)
    return pruned
